package engine_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"hako/engine"
	"hako/store"
)

// fakeBuilder builds nothing: it answers with fixed process types, or an
// EBUILD error when fail is set.
type fakeBuilder struct {
	fail    bool
	removed []string
}

func (b *fakeBuilder) Build(ctx context.Context, req engine.BuildRequest) (*engine.BuildResult, error) {
	if b.fail {
		return nil, engine.Errorf(engine.EBUILD, "failed to compile")
	}
	return &engine.BuildResult{SlugID: strings.Repeat("a", 64), Size: 10, Buildpack: "Fake", ProcessTypes: map[string]string{"web": "serve", "worker": "work"}}, nil
}

func (b *fakeBuilder) Unpack(id, dest string) error { return os.MkdirAll(dest, 0o755) }
func (b *fakeBuilder) ExtractSource(r io.Reader, dest string) error {
	return os.MkdirAll(dest, 0o755)
}
func (b *fakeBuilder) RemoveSlug(id string) error {
	b.removed = append(b.removed, id)
	return nil
}

type fakeDyno struct {
	spec    engine.DynoSpec
	stopped bool
}

func (d *fakeDyno) Status() engine.DynoStatus {
	return engine.DynoStatus{Name: d.spec.Name, Type: d.spec.Type, App: d.spec.App, Release: d.spec.Release, State: engine.DynoUp}
}
func (d *fakeDyno) Addr() string                     { return "127.0.0.1:1" }
func (d *fakeDyno) Up() bool                         { return !d.stopped }
func (d *fakeDyno) WaitUp(ctx context.Context) error { return nil }
func (d *fakeDyno) Stop() error {
	d.stopped = true
	return nil
}

type fakeSupervisor struct {
	mu       sync.Mutex
	started  []*fakeDyno
	once     []engine.DynoSpec
	onceCode int
}

func (s *fakeSupervisor) Start(spec engine.DynoSpec) (engine.Dyno, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &fakeDyno{spec: spec}
	s.started = append(s.started, d)
	return d, nil
}
func (s *fakeSupervisor) Isolation() string { return "fake" }
func (s *fakeSupervisor) RunOnce(ctx context.Context, spec engine.DynoSpec, stdin io.Reader, out io.Writer) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.once = append(s.once, spec)
	return s.onceCode, nil
}

// fakeRoutes is told of apps' dynos as the router is, from several
// goroutines at once (Restore's); tests read it once the engine is done.
type fakeRoutes struct {
	mu      sync.Mutex
	apps    map[string][]engine.Backend
	domains map[string][]string
}

func (r *fakeRoutes) SetBackends(app string, b []engine.Backend) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.apps[app] = b
}
func (r *fakeRoutes) RemoveApp(app string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.apps, app)
}
func (r *fakeRoutes) SetDomains(app string, hosts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.domains[app] = hosts
}
func (r *fakeRoutes) SetMaintenance(app string, on bool) {}

func newEngine(t *testing.T) (*engine.Engine, *fakeBuilder, *fakeSupervisor, *fakeRoutes) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b, s, r := &fakeBuilder{}, &fakeSupervisor{}, &fakeRoutes{apps: map[string][]engine.Backend{}, domains: map[string][]string{}}
	e := engine.New(engine.Parts{Store: st, Builder: b, Supervisor: s, Routes: r,
		Paths: engine.Layout{Run: filepath.Join(dir, "run"), Cache: filepath.Join(dir, "cache"), Repos: filepath.Join(dir, "repos")}})
	return e, b, s, r
}

func TestCreateApp(t *testing.T) {
	e, _, _, r := newEngine(t)
	for _, bad := range []string{"../x", "A", "x;rm", "ab", "-abc", "abc-", strings.Repeat("a", 31)} {
		if _, err := e.CreateApp(bad, "u"); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("CreateApp(%q) = %v, want EINVALID", bad, err)
		}
	}
	a, err := e.CreateApp("my-app", "u")
	if err != nil || a.CurrentRelease != 1 {
		t.Fatalf("CreateApp = %+v, %v", a, err)
	}
	rel, err := e.Store.Release("my-app", 1)
	if err != nil || rel.Description != "Initial release" {
		t.Errorf("v1 = %+v, %v", rel, err)
	}
	if _, ok := r.apps["my-app"]; !ok {
		t.Error("new app not known to the router")
	}
	if _, err := e.CreateApp("my-app", "u"); engine.ErrorCode(err) != engine.ECONFLICT {
		t.Errorf("duplicate = %v, want ECONFLICT", err)
	}
	gen, err := e.CreateApp("", "u")
	if err != nil || engine.ValidateAppName(gen.Name) != nil {
		t.Errorf("generated name = %+v, %v", gen, err)
	}
}

func TestDeploy(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e, _, s, r := newEngine(t)
		if _, err := e.CreateApp("my-app", "u"); err != nil {
			t.Fatal(err)
		}
		rel, err := e.Deploy(context.Background(), engine.DeployRequest{App: "my-app", Commit: "0123456789abcdef", SourceDir: t.TempDir(), User: "u"})
		if err != nil || rel.Version != 2 || rel.Description != "Deploy 0123456" {
			t.Fatalf("Deploy = %+v, %v", rel, err)
		}
		a, _ := e.Store.App("my-app")
		if a.CurrentRelease != 2 || a.Formation["web"] != 1 || a.Formation["worker"] != 0 {
			t.Errorf("app after deploy = %+v", a)
		}
		if len(s.started) != 1 || s.started[0].spec.Name != "web.1" || s.started[0].spec.Env["HEROKU_RELEASE_VERSION"] != "v2" {
			t.Errorf("started = %+v", s.started)
		}
		if len(r.apps["my-app"]) != 1 {
			t.Errorf("router backends = %v", r.apps["my-app"])
		}
		// A second deploy replaces the dyno.
		if _, err := e.Deploy(context.Background(), engine.DeployRequest{App: "my-app", Commit: "feed", SourceDir: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
		if len(s.started) != 2 || !s.started[0].stopped || s.started[1].stopped {
			t.Errorf("redeploy did not replace the dyno: %+v", s.started)
		}
	})
	t.Run("ErrBuild", func(t *testing.T) {
		e, b, s, _ := newEngine(t)
		if _, err := e.CreateApp("my-app", "u"); err != nil {
			t.Fatal(err)
		}
		b.fail = true
		if _, err := e.Deploy(context.Background(), engine.DeployRequest{App: "my-app", Commit: "c", SourceDir: t.TempDir()}); engine.ErrorCode(err) != engine.EBUILD {
			t.Fatalf("Deploy = %v, want EBUILD", err)
		}
		rels, _ := e.Store.Releases("my-app")
		if len(rels) != 1 || len(s.started) != 0 {
			t.Errorf("failed build left releases %d, dynos %d", len(rels), len(s.started))
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		e, _, _, _ := newEngine(t)
		if _, err := e.Deploy(context.Background(), engine.DeployRequest{App: "ghost", SourceDir: t.TempDir()}); engine.ErrorCode(err) != engine.ENOTFOUND {
			t.Errorf("Deploy = %v, want ENOTFOUND", err)
		}
	})
}

func TestDestroyApp(t *testing.T) {
	e, b, s, r := newEngine(t)
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Deploy(context.Background(), engine.DeployRequest{App: "my-app", Commit: "c", SourceDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := e.DestroyApp("my-app"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App("my-app"); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("App after destroy = %v", err)
	}
	if !s.started[0].stopped || len(b.removed) != 1 {
		t.Errorf("destroy left dynos or slugs: stopped=%v removed=%v", s.started[0].stopped, b.removed)
	}
	if _, ok := r.apps["my-app"]; ok {
		t.Error("router still knows the app")
	}
	if _, err := os.Stat(filepath.Join(e.Paths.Run, "my-app")); !os.IsNotExist(err) {
		t.Errorf("run directory left: %v", err)
	}
}

func TestSetBuildpacks(t *testing.T) {
	e, _, _, _ := newEngine(t)
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"/etc"}, {"../x"}, {"file:///srv/pack"}, {"go", "go"}, {"a b"}, {"1", "2", "3", "4", "5", "6", "7"}} {
		if _, err := e.SetBuildpacks("my-app", bad); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("SetBuildpacks(%q) = %v, want EINVALID", bad, err)
		}
	}
	got, err := e.SetBuildpacks("my-app", []string{"heroku/nodejs", "https://example.test/pack.git#v2", "my-pack"})
	if err != nil || len(got) != 3 {
		t.Fatalf("SetBuildpacks = %v, %v", got, err)
	}
	if a, _ := e.App("my-app"); len(a.Buildpacks) != 3 {
		t.Errorf("stored = %v", a.Buildpacks)
	}
}

func TestDomains(t *testing.T) {
	e, _, _, r := newEngine(t)
	e.Domain = "localhost"
	for _, n := range []string{"app-one", "app-two"} {
		if _, err := e.CreateApp(n, "u"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.AddDomain("app-one", "WWW.Example.test.")
	if err != nil || len(got) != 1 || got[0] != "www.example.test" || r.domains["app-one"][0] != "www.example.test" {
		t.Fatalf("AddDomain = %v, %v; router has %v", got, err, r.domains)
	}
	cases := []struct {
		app, host, code string
	}{
		{"app-two", "www.example.test", engine.ECONFLICT},
		{"app-one", "www.example.test", engine.ECONFLICT},
		{"app-one", "nodot", engine.EINVALID},
		{"app-one", "../etc", engine.EINVALID},
		{"app-one", "other.localhost", engine.EINVALID},
		{"app-one", "127.0.0.1", engine.EINVALID},
		{"app-one", "127.1", engine.EINVALID},
		{"app-one", "[::1]", engine.EINVALID},
		{"app-one", "::ffff:10.0.0.1", engine.EINVALID},
		{"app-one", "[2001:db8::1]", engine.EINVALID},
		{"ghost-app", "a.example.test", engine.ENOTFOUND},
	}
	for _, c := range cases {
		if _, err := e.AddDomain(c.app, c.host); engine.ErrorCode(err) != c.code {
			t.Errorf("AddDomain(%s, %s) = %v, want %s", c.app, c.host, err, c.code)
		}
	}
	if _, err := e.RemoveDomain("app-one", "nope.example.test"); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("removing a missing domain = %v", err)
	}
	if got, err := e.RemoveDomain("app-one", "www.example.test"); err != nil || len(got) != 0 || len(r.domains["app-one"]) != 0 {
		t.Errorf("RemoveDomain = %v, %v", got, err)
	}
}
