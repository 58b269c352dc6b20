package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"hako/engine"
)

// seqBuilder gives each build a slug of its own: "1111…", "2222…", ….
type seqBuilder struct {
	fakeBuilder
	mu    sync.Mutex
	n     int
	slugs []string
}

func (b *seqBuilder) Build(ctx context.Context, req engine.BuildRequest) (*engine.BuildResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	id := strings.Repeat(string(rune('0'+b.n)), 64)
	b.slugs = append(b.slugs, id)
	return &engine.BuildResult{SlugID: id, Size: 10, Buildpack: "Fake", ProcessTypes: map[string]string{"web": "serve"}}, nil
}

func (b *seqBuilder) Unpack(id, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dest, "slug"), []byte(id), 0o644)
}

// usingSupervisor also reports directories in use, as the real one does
// for dynos still stopping.
type usingSupervisor struct {
	*fakeSupervisor
	mu  sync.Mutex
	dir []string
}

func (s *usingSupervisor) DirsInUse() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dir)
}

func TestUnpackedSlugsShared(t *testing.T) {
	e, _, fs, _ := newEngine(t)
	b := &seqBuilder{}
	sup := &usingSupervisor{fakeSupervisor: fs}
	e.Builder, e.Supervisor = b, sup
	ctx := context.Background()
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	unpacked := func() []string {
		t.Helper()
		entries, err := os.ReadDir(filepath.Join(e.Paths.Run, "my-app"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, en := range entries {
			names = append(names, en.Name()[:1])
		}
		return names
	}
	check := func(step string, want ...string) {
		t.Helper()
		if got := unpacked(); !slices.Equal(got, want) {
			t.Errorf("after %s: unpacked slugs %v, want %v", step, got, want)
		}
	}
	deploy := func() {
		t.Helper()
		if _, err := e.Deploy(ctx, engine.DeployRequest{App: "my-app", Commit: "c0ffee", SourceDir: t.TempDir(), User: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	deploy() // v2, slug 1
	for i := 0; i < 5; i++ {
		v := "x"
		if _, err := e.UpdateConfig(ctx, "my-app", "u", map[string]*string{"K": &v}, nil); err != nil {
			t.Fatal(err)
		}
	}
	check("five config releases", "1")
	deploy() // slug 2
	check("a second deploy", "1", "2")
	deploy() // slug 3: slug 1 is neither current nor previous
	check("a third deploy", "2", "3")
	if _, err := e.Rollback(ctx, "my-app", "u", 2, nil); err != nil {
		t.Fatal(err)
	}
	check("a rollback to slug 1", "1", "3")
	if got, _ := os.ReadFile(filepath.Join(e.Paths.Run, "my-app", b.slugs[0], "slug")); string(got) != b.slugs[0] {
		t.Errorf("slug 1 unpacked again holds %q", got)
	}
	// A directory a dyno still uses stays however releases move.
	sup.mu.Lock()
	sup.dir = []string{filepath.Join(e.Paths.Run, "my-app", b.slugs[2])}
	sup.mu.Unlock()
	deploy() // slug 4
	deploy() // slug 5
	check("two deploys while slug 3 is in use", "3", "4", "5")
	sup.mu.Lock()
	sup.dir = nil
	sup.mu.Unlock()
	deploy() // slug 6
	check("slug 3 no longer in use", "5", "6")
	for _, s := range fs.started {
		if _, err := os.Stat(s.spec.Dir); s.spec.Dir == "" || (err != nil && !s.stopped) {
			t.Errorf("running dyno %s lost its directory %s: %v", s.spec.Name, s.spec.Dir, err)
		}
	}
}

func TestStatus(t *testing.T) {
	e, _, _, _ := newEngine(t)
	e.Paths.Home = filepath.Dir(e.Paths.Run)
	for _, name := range []string{"my-app", "other-app"} {
		if _, err := e.CreateApp(name, "u"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Deploy(context.Background(), engine.DeployRequest{App: "my-app", Commit: "c0ffee", SourceDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	st, err := e.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.AppsCount != 2 || len(st.Dynos) != 1 || st.Dynos[engine.DynoUp] != 1 || st.Isolation != "fake" {
		t.Errorf("status = %+v", st)
	}
	if len(st.Apps) != 2 || st.Apps[0].Name != "my-app" || st.Apps[0].Slugs != 10 || st.Apps[0].Unpacked <= 0 || st.Apps[1].Total != 0 {
		t.Errorf("disk use by app = %+v", st.Apps)
	}
	if st.HomeBytes < st.Apps[0].Total {
		t.Errorf("home takes %d, less than the app's %d", st.HomeBytes, st.Apps[0].Total)
	}
}
