package engine_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"hako/engine"
)

// memLogs keeps the lines an engine logs, for tests.
type memLogs struct {
	mu    sync.Mutex
	lines []string
}

func (l *memLogs) Log(app, source, proc, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, source+"["+proc+"]: "+line)
}

func (l *memLogs) has(line string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, got := range l.lines {
		if got == line {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStagedDeploy checks the two steps of a push: a staged release is
// pending and serves nothing until Release, holds the app's lock so a
// second deploy waits (saying for what), and Abort marks it failed.
func TestStagedDeploy(t *testing.T) {
	e, _, fs, r := newEngine(t)
	ctx := context.Background()
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	d, err := e.StageDeploy(ctx, engine.DeployRequest{App: "my-app", Commit: "1a2b3c4d5e", SourceDir: t.TempDir(), User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if app, _ := e.App("my-app"); app.CurrentRelease != 1 || d.Version != 2 {
		t.Fatalf("staged v%d went live early: current v%d", d.Version, app.CurrentRelease)
	}
	if rel, _ := e.Store.Release("my-app", 2); rel.Status != engine.ReleasePending {
		t.Errorf("staged release status %q, want pending", rel.Status)
	}
	if len(r.apps["my-app"]) != 0 {
		t.Errorf("router serves a staged release: %v", r.apps["my-app"])
	}

	// A second deploy waits for the first, then its Verify sees the
	// branch moved and it is refused.
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		_, err := e.StageDeploy(ctx, engine.DeployRequest{App: "my-app", Commit: "ffff", SourceDir: t.TempDir(), Out: out,
			Verify: func() error { return engine.Errorf(engine.ECONFLICT, "main moved") }})
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "waiting for the deploy of 1a2b3c4 to finish\n" {
		if time.Now().After(deadline) {
			t.Fatalf("second deploy output %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("second deploy did not wait: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	var rout bytes.Buffer
	if rel, err := d.Release(&rout); err != nil || rel.Version != 2 || !strings.Contains(rout.String(), "Released v2") {
		t.Fatalf("Release = %+v, %v, %q", rel, err, rout.String())
	}
	if err := <-done; engine.ErrorCode(err) != engine.ECONFLICT {
		t.Errorf("second deploy after the branch moved: %v, want ECONFLICT", err)
	}
	if len(r.apps["my-app"]) != 1 {
		t.Errorf("router after Release: %v", r.apps["my-app"])
	}

	// Abort: the release fails, its dynos stop, v2 keeps serving.
	d, err = e.StageDeploy(ctx, engine.DeployRequest{App: "my-app", Commit: "5e6f", SourceDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	d.Abort("git did not move main")
	if rel, _ := e.Store.Release("my-app", 3); rel.Status != engine.ReleaseFailed {
		t.Errorf("aborted release status %q", rel.Status)
	}
	if app, _ := e.App("my-app"); app.CurrentRelease != 2 {
		t.Errorf("current v%d after Abort, want v2", app.CurrentRelease)
	}
	for _, dy := range fs.started {
		if dy.spec.Release == 3 && !dy.stopped {
			t.Errorf("dyno %s of the aborted release still runs", dy.spec.Name)
		}
	}
	if _, err := d.Release(nil); engine.ErrorCode(err) != engine.ECONFLICT {
		t.Errorf("Release after Abort: %v", err)
	}
}

// TestRestoreSettlesPendingDeploys checks what a start does with a
// release a kill left pending: rolled forward when git's branch holds its
// commit, marked failed otherwise, said in the app's log either way.
func TestRestoreSettlesPendingDeploys(t *testing.T) {
	for _, c := range []struct {
		name    string
		heads   []string
		current int
		status  string
		logged  string
	}{
		{"branch moved", []string{"c2c2c2c2c2"}, 3, engine.ReleaseSucceeded,
			"app[api]: Release v3 (Deploy c2c2c2c) rolled forward: git had moved the branch to c2c2c2c when the server stopped"},
		{"branch did not move", []string{"c1c1c1c1c1"}, 2, engine.ReleaseFailed,
			"app[api]: Release v3 (Deploy c2c2c2c) marked failed: the server stopped before it went live"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, _, _, _ := newEngine(t)
			e.Builder = &seqBuilder{} // a slug, and so a commit, per build
			ctx := context.Background()
			if _, err := e.CreateApp("my-app", "u"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Deploy(ctx, engine.DeployRequest{App: "my-app", Commit: "c1c1c1c1c1", SourceDir: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.StageDeploy(ctx, engine.DeployRequest{App: "my-app", Commit: "c2c2c2c2c2", SourceDir: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			// A new server on the same store: the staged deploy was
			// neither released nor aborted.
			logs := &memLogs{}
			e2, _, _, r2 := newEngine(t)
			e2.Store, e2.Logs, e2.Builder, e2.Paths = e.Store, logs, e.Builder, e.Paths
			e2.RepoHeads = func(app string) ([]string, error) { return c.heads, nil }
			if err := e2.Restore(ctx); err != nil {
				t.Fatal(err)
			}
			app, _ := e2.App("my-app")
			rel, _ := e2.Store.Release("my-app", 3)
			if app.CurrentRelease != c.current || rel.Status != c.status {
				t.Errorf("current v%d, v3 %s; want v%d, %s", app.CurrentRelease, rel.Status, c.current, c.status)
			}
			if !logs.has(c.logged) {
				t.Errorf("log lacks %q: %q", c.logged, logs.lines)
			}
			if got := r2.apps["my-app"]; len(got) != 1 || got[0].Status().Release != c.current {
				t.Errorf("router after restore: %v", got)
			}
		})
	}
}

// crashingSupervisor starts dynos that never come up when their config
// has CRASH set; down makes every dyno it started report not up.
type crashingSupervisor struct {
	*fakeSupervisor
	mu    sync.Mutex
	dynos []*crashingDyno
}

type crashingDyno struct {
	engine.Dyno
	crash bool
	down  bool
}

func (d *crashingDyno) Up() bool { return !d.crash && !d.down && d.Dyno.Up() }
func (d *crashingDyno) WaitUp(ctx context.Context) error {
	if d.crash {
		return engine.Errorf(engine.EBUILD, "crashed")
	}
	return nil
}

func (s *crashingSupervisor) Start(spec engine.DynoSpec) (engine.Dyno, error) {
	d, err := s.fakeSupervisor.Start(spec)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cd := &crashingDyno{Dyno: d, crash: spec.Env["CRASH"] != ""}
	s.dynos = append(s.dynos, cd)
	return cd, nil
}

// TestReleaseThatCannotStart checks that a config change whose web dynos
// do not come up is refused while the current release serves, and goes
// live when nothing serves (so that config can fix a crashing app).
func TestReleaseThatCannotStart(t *testing.T) {
	e, _, fs, _ := newEngine(t)
	cs := &crashingSupervisor{fakeSupervisor: fs}
	e.Supervisor = cs
	ctx := context.Background()
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Deploy(ctx, engine.DeployRequest{App: "my-app", Commit: "c1", SourceDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	crash := "1"
	_, err := e.UpdateConfig(ctx, "my-app", "u", map[string]*string{"CRASH": &crash}, nil)
	if engine.ErrorCode(err) != engine.EBUILD || engine.ErrorMessage(err) != "Release v3 failed: web.1 crashed before it came up; v2 keeps serving. `hako logs -a my-app` shows why." {
		t.Fatalf("config change that cannot start: %v", err)
	}
	if app, _ := e.App("my-app"); app.CurrentRelease != 2 {
		t.Errorf("current v%d, want v2", app.CurrentRelease)
	}
	for _, d := range fs.started {
		if d.spec.Release == 3 && !d.stopped {
			t.Errorf("dyno %s of the failed v3 still runs", d.spec.Name)
		}
	}

	// The v2 dynos go down: the same change now goes live.
	cs.mu.Lock()
	for _, d := range cs.dynos {
		d.down = true
	}
	cs.mu.Unlock()
	var out bytes.Buffer
	rel, err := e.UpdateConfig(ctx, "my-app", "u", map[string]*string{"CRASH": &crash}, &out)
	if err != nil || rel.Version != 4 {
		t.Fatalf("config change while nothing serves: %+v, %v", rel, err)
	}
	if got := out.String(); got != " !     v4: web.1 crashed before it came up; it goes live all the same, as no dyno of v2 was up.\n" {
		t.Errorf("output %q", got)
	}
	if app, _ := e.App("my-app"); app.CurrentRelease != 4 {
		t.Errorf("current v%d, want v4", app.CurrentRelease)
	}
}

// gatedSupervisor starts dynos whose WaitUp returns only once n of them
// wait at the same time (or their context ends, which fails them).
type gatedSupervisor struct {
	*fakeSupervisor
	n       int
	mu      sync.Mutex
	waiting int
	open    chan struct{}
}

type gatedDyno struct {
	engine.Dyno
	s *gatedSupervisor
}

func (s *gatedSupervisor) Start(spec engine.DynoSpec) (engine.Dyno, error) {
	d, err := s.fakeSupervisor.Start(spec)
	if err != nil {
		return nil, err
	}
	return &gatedDyno{Dyno: d, s: s}, nil
}

func (d *gatedDyno) WaitUp(ctx context.Context) error {
	d.s.mu.Lock()
	d.s.waiting++
	if d.s.waiting == d.s.n {
		close(d.s.open)
	}
	d.s.mu.Unlock()
	select {
	case <-d.s.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestRestoreStartsAppsTogether checks that a server start brings its
// apps up side by side, not one after the other: each app's web dyno
// comes up only once the three apps' dynos all wait to come up, which
// one app at a time never reaches.
func TestRestoreStartsAppsTogether(t *testing.T) {
	e, _, _, _ := newEngine(t)
	ctx := context.Background()
	apps := []string{"app-one", "app-two", "app-three"}
	for _, a := range apps {
		if _, err := e.CreateApp(a, "u"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Deploy(ctx, engine.DeployRequest{App: a, Commit: "c1c1c1c1c1", SourceDir: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
	}
	e2, _, fs, r2 := newEngine(t)
	e2.Store, e2.Builder, e2.Paths = e.Store, e.Builder, e.Paths
	e2.Supervisor = &gatedSupervisor{fakeSupervisor: fs, n: len(apps), open: make(chan struct{})}
	// A deadline only so that a restore of one app at a time ends, failed.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e2.Restore(rctx); err != nil {
		t.Fatalf("restore: %v", err)
	}
	for _, a := range apps {
		if got := r2.apps[a]; len(got) != 1 {
			t.Errorf("router after restore: %s has %d backends, want 1", a, len(got))
		}
	}
}
