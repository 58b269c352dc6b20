package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"hako/engine"
	"hako/store"
)

// fileBuilder writes a real file per build, each with its own id, as the
// real builder does, so that tests see which slug files stay.
type fileBuilder struct {
	dir string
	mu  sync.Mutex
	n   int
	// same, when set, is the id every build gets (a build of the very
	// bytes of that slug), and types the process types it declares.
	same  string
	types map[string]string
}

func (b *fileBuilder) path(id string) string { return filepath.Join(b.dir, id+".tgz") }

func (b *fileBuilder) Build(ctx context.Context, req engine.BuildRequest) (*engine.BuildResult, error) {
	b.mu.Lock()
	b.n++
	sum := sha256.Sum256(fmt.Appendf(nil, "slug %d", b.n))
	id, types := hex.EncodeToString(sum[:]), map[string]string{"web": "serve"}
	if b.same != "" {
		id, types = b.same, b.types
	}
	b.mu.Unlock()
	if err := os.WriteFile(b.path(id), []byte("slug"), 0o644); err != nil {
		return nil, err
	}
	return &engine.BuildResult{SlugID: id, Size: 4, Buildpack: "Fake", ProcessTypes: types}, nil
}
func (b *fileBuilder) Unpack(id, dest string) error { return os.MkdirAll(dest, 0o755) }
func (b *fileBuilder) ExtractSource(r io.Reader, dest string) error {
	return os.MkdirAll(dest, 0o755)
}
func (b *fileBuilder) RemoveSlug(id string) error {
	if err := os.Remove(b.path(id)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
func (b *fileBuilder) HasSlug(id string) bool {
	_, err := os.Stat(b.path(id))
	return err == nil
}

// files lists the slug files left, sorted.
func (b *fileBuilder) files(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(b.dir, "*.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = strings.TrimSuffix(filepath.Base(m[i]), ".tgz")
	}
	slices.Sort(m)
	return m
}

func newRetainEngine(t *testing.T, keep int) (*engine.Engine, *fileBuilder) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &fileBuilder{dir: filepath.Join(dir, "slugs")}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := engine.New(engine.Parts{Store: st, Builder: b, Supervisor: &fakeSupervisor{},
		Routes: &fakeRoutes{apps: map[string][]engine.Backend{}, domains: map[string][]string{}},
		Paths:  engine.Layout{Slugs: b.dir, Run: filepath.Join(dir, "run"), Cache: filepath.Join(dir, "cache"), Repos: filepath.Join(dir, "repos")},
		Limits: engine.BuildLimits{KeepSlugs: keep}})
	return e, b
}

func deploy(t *testing.T, e *engine.Engine, app string) *engine.Release {
	t.Helper()
	rel, err := e.Deploy(context.Background(), engine.DeployRequest{App: app, Commit: "c0ffee", SourceDir: t.TempDir(), User: "u"})
	if err != nil {
		t.Fatalf("Deploy(%s): %v", app, err)
	}
	return rel
}

// TestRetainSlugs: N+3 deploys leave the slugs of the last N, the
// current one's among them; a rollback to a release whose slug went is
// refused, naming the limit, and changes nothing; one to a kept release
// works.
func TestRetainSlugs(t *testing.T) {
	const keep = 2
	e, b := newRetainEngine(t, keep)
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	var slugs []string
	for range keep + 3 {
		rel := deploy(t, e, "my-app")
		slugs = append(slugs, rel.SlugID)
	}
	want := slices.Sorted(slices.Values(slugs[len(slugs)-keep:]))
	if got := b.files(t); !slices.Equal(got, want) {
		t.Fatalf("slug files %v, want the last %d %v", got, keep, want)
	}
	for _, id := range slugs[:len(slugs)-keep] {
		if _, err := os.Stat(filepath.Join(e.Paths.Run, "my-app", id)); !os.IsNotExist(err) {
			t.Errorf("unpacked tree of removed slug %s: %v", id[:7], err)
		}
	}
	rels, _ := e.Releases("my-app")
	_, err := e.Rollback(context.Background(), "my-app", "u", 2, nil)
	if engine.ErrorCode(err) != engine.EINVALID || engine.ErrorMessage(err) != "The slug of v2 of my-app was removed: this server keeps the slugs of each app's last 2 deploys and of its current release (--keep-slugs). Deploy that code again to run it." {
		t.Fatalf("rollback to a removed slug = %v", err)
	}
	a, _ := e.App("my-app")
	if after, _ := e.Releases("my-app"); a.CurrentRelease != 1+keep+3 || len(after) != len(rels) {
		t.Errorf("refused rollback changed the app: current v%d, %d releases (was %d)", a.CurrentRelease, len(after), len(rels))
	}
	rel, err := e.Rollback(context.Background(), "my-app", "u", 0, nil)
	if err != nil || rel.SlugID != slugs[len(slugs)-2] {
		t.Fatalf("rollback to the previous release = %+v, %v", rel, err)
	}
	if got := b.files(t); !slices.Equal(got, want) {
		t.Errorf("after a rollback slug files %v, want %v", got, want)
	}
}

// TestRetainSharedSlug: a slug another app released (a promotion) stays
// while that app's releases retain it, and goes once none does.
func TestRetainSharedSlug(t *testing.T) {
	e, b := newRetainEngine(t, 1)
	for _, n := range []string{"stage-app", "prod-app"} {
		if _, err := e.CreateApp(n, "u"); err != nil {
			t.Fatal(err)
		}
	}
	shared := deploy(t, e, "stage-app").SlugID
	if _, err := e.ReleaseSlug(context.Background(), engine.SlugRelease{App: "prod-app", User: "u", SlugID: shared, Description: "Promote"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		deploy(t, e, "stage-app")
	}
	if !b.HasSlug(shared) {
		t.Fatal("the promoted slug went while prod-app runs it")
	}
	// Its record stays while prod-app retains it: stage-app may go back.
	if rel, err := e.Rollback(context.Background(), "stage-app", "u", 2, nil); err != nil || rel.SlugID != shared {
		t.Fatalf("rollback of stage-app to the shared slug = %+v, %v", rel, err)
	}
	own := deploy(t, e, "prod-app").SlugID
	if !b.HasSlug(shared) {
		t.Fatal("the shared slug went while stage-app's current release runs it")
	}
	deploy(t, e, "stage-app")
	if b.HasSlug(shared) {
		t.Error("the shared slug stays though no app retains it")
	}
	if !b.HasSlug(own) {
		t.Error("prod-app's current slug went")
	}
}

// TestSweepOrphanSlugs: a start removes slug files no record names (a
// crash between a record's deletion and its file's, a build killed before
// its release) and temporary ones, and keeps every recorded one.
func TestSweepOrphanSlugs(t *testing.T) {
	e, b := newRetainEngine(t, 5)
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	kept := []string{deploy(t, e, "my-app").SlugID, deploy(t, e, "my-app").SlugID}
	orphan := strings.Repeat("ab", 32)
	for _, name := range []string{orphan + ".tgz", ".slug-123.tmp", ".import-9.tmp"} {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(b.dir, "README"), []byte("not a slug"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Sweep(); err != nil {
		t.Fatal(err)
	}
	if got, want := b.files(t), slices.Sorted(slices.Values(kept)); !slices.Equal(got, want) {
		t.Errorf("after the sweep slug files %v, want %v", got, want)
	}
	left, _ := os.ReadDir(b.dir)
	var names []string
	for _, en := range left {
		names = append(names, en.Name())
	}
	if slices.Contains(names, ".slug-123.tmp") || slices.Contains(names, ".import-9.tmp") || !slices.Contains(names, "README") {
		t.Errorf("after the sweep the directory holds %v", names)
	}
}

// TestFailedBuildOfSameBytes: another app's build of the very bytes of a
// slug gets its id; when that deploy fails, the slug the first app runs
// stays, and so does its record.
func TestFailedBuildOfSameBytes(t *testing.T) {
	e, b := newRetainEngine(t, 2)
	for _, n := range []string{"victim", "attacker"} {
		if _, err := e.CreateApp(n, "u"); err != nil {
			t.Fatal(err)
		}
	}
	id := deploy(t, e, "victim").SlugID
	b.same, b.types = id, map[string]string{"web": strings.Repeat("x", engine.MaxCommandSize+1)}
	if _, err := e.Deploy(context.Background(), engine.DeployRequest{App: "attacker", Commit: "bad", SourceDir: t.TempDir(), User: "u"}); engine.ErrorCode(err) != engine.EBUILD {
		t.Fatalf("attacker's deploy = %v, want EBUILD", err)
	}
	if !b.HasSlug(id) {
		t.Error("a failed build of the same bytes removed the victim's slug")
	}
	if sl, err := e.Slug(id); err != nil || sl.App != "victim" {
		t.Errorf("victim's slug record = %+v, %v", sl, err)
	}
	// A successful one shares it: the record stays the victim's, and the
	// attacker's later pushes do not remove it.
	b.types = map[string]string{"web": "serve"}
	deploy(t, e, "attacker")
	b.same = ""
	for range 3 {
		deploy(t, e, "attacker")
	}
	if sl, err := e.Slug(id); err != nil || sl.App != "victim" || !b.HasSlug(id) {
		t.Errorf("after the attacker's pushes the victim's slug = %+v, %v, file %v", sl, err, b.HasSlug(id))
	}
}
