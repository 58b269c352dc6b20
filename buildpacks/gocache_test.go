package buildpacks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

// sharedCache is one SharedCache for the package's tests, so that the Go
// standard library is compiled into it once; TestMain removes it.
var sharedCache struct {
	once sync.Once
	dir  string
}

func testSharedCache(t *testing.T) string {
	t.Helper()
	sharedCache.once.Do(func() {
		sharedCache.dir, _ = os.MkdirTemp("", "hako-test-shared-")
	})
	if sharedCache.dir == "" {
		t.Fatal("no shared cache directory")
	}
	return sharedCache.dir
}

// An app whose build poisons every Go build cache it can write (the
// cache-poisoner app: its npm build script makes the cached fmt print
// INJECTED) changes only its own later builds: another app built after
// it, new or not, links the real fmt, and a new app's first build takes
// the standard library from the shared layer instead of compiling it.
func TestGoCacheLayers(t *testing.T) {
	needTools(t, "go", "node", "npm")
	b, _, _ := sandboxed(t)
	b.SharedCache = testSharedCache(t)
	caches := t.TempDir()
	build := func(t *testing.T, app, src string) (output string, binary []byte) {
		t.Helper()
		var out lockedBuffer
		res, err := b.Build(context.Background(), engine.BuildRequest{
			App: app, SourceDir: src, CacheDir: filepath.Join(caches, app), Out: &out,
		})
		if err != nil {
			t.Fatalf("build %s: %v\n%s", app, err, out.String())
		}
		dest := filepath.Join(t.TempDir(), "slug")
		if err := b.Unpack(res.SlugID, dest); err != nil {
			t.Fatal(err)
		}
		bins, _ := filepath.Glob(filepath.Join(dest, "bin", "*"))
		if len(bins) != 1 {
			t.Fatalf("build %s made binaries %v", app, bins)
		}
		data, err := os.ReadFile(bins[0])
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), data
	}
	injected := []byte("INJECTED by the cache poisoner: this line comes from a poisoned fmt\n")

	// The victim's first build (which may fill the shared layer).
	if _, bin := build(t, "victim", copyApp(t, "go-app")); bytes.Contains(bin, injected) {
		t.Fatal("the victim links an injected fmt before any attack")
	}
	layers, _ := filepath.Glob(filepath.Join(b.SharedCache, "go-std", "*"))
	if len(layers) != 1 {
		t.Fatalf("shared layers = %v, want one", layers)
	}
	layer := layers[0]
	checkSealed(t, layer)
	before := treeDigest(t, layer)

	// The attacker: it poisons its own cache, and whatever else it finds.
	src := copyApp(t, "cache-poisoner")
	targets := strings.Join([]string{b.SharedCache, filepath.Join(caches, "victim"), filepath.Join(caches, "newcomer")}, "\n")
	writeFiles(t, src, map[string]string{"targets.txt": targets + "\n"})
	out, _ := build(t, "poisoner", src)
	// Its own cache is on its build disk, mounted where the build runs.
	own := regexp.MustCompile(`(?m)^       poisoned: /\S+/disk/cache/` + goCacheDir + `$`)
	if !own.MatchString(out) {
		t.Fatalf("the attack did not even reach its own cache (on its build disk):\n%s", out)
	}
	if strings.Count(out, "poisoned: ") != 1 {
		t.Errorf("the attack poisoned another cache than its own:\n%s", out)
	}
	// The attack is real: the poisoner's next build links the injected fmt.
	if _, bin := build(t, "poisoner", copyApp(t, "cache-poisoner")); !bytes.Contains(bin, injected) {
		t.Errorf("the poisoner's own next build does not link its injected fmt: the attack is broken, the test proves nothing; its first build:\n%s", out)
	}

	if after := treeDigest(t, layer); after != before {
		t.Error("the shared layer changed")
	}
	if _, bin := build(t, "victim", copyApp(t, "go-app")); bytes.Contains(bin, injected) {
		t.Error("the victim's next build links the injected fmt")
	}
	out, bin := build(t, "newcomer", copyApp(t, "go-app"))
	if bytes.Contains(bin, injected) {
		t.Error("a new app's first build links the injected fmt")
	}
	if strings.Contains(out, "Compiling the Go standard library") {
		t.Errorf("a new app's build filled the shared layer again:\n%s", out)
	}
	// Timing-free evidence that the standard library came from the shared
	// layer: the new app's own layer holds a handful of entries (its main
	// package), the shared one hundreds.
	var mine int
	onBuildDisk(t, b, filepath.Join(caches, "newcomer"), func(dir string) {
		mine = countEntries(t, filepath.Join(dir, diskCache, goCacheDir, "upper"))
	})
	if shared := countEntries(t, layer); mine > 20 || shared < 200 {
		t.Errorf("the new app's own layer has %d cache entries and the shared one %d: want at most 20 and at least 200", mine, shared)
	}
}

// checkSealed fails unless every file of the layer is root's, read-only
// and dated in the future.
func checkSealed(t *testing.T, layer string) {
	t.Helper()
	err := filepath.Walk(layer, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 0 || st.Gid != 0 || fi.Mode().Perm()&0o022 != 0 || (!fi.IsDir() && fi.Mode().Perm()&0o200 != 0) {
			t.Fatalf("%s is %v, owned by %d:%d", p, fi.Mode(), st.Uid, st.Gid)
		}
		if fi.ModTime().Before(time.Now().AddDate(10, 0, 0)) {
			t.Fatalf("%s is dated %v", p, fi.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// treeDigest sums the names, sizes and contents of a tree's files.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		b.WriteString(p + "\x00" + string(data) + "\x00")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return string(sum[:])
}

// countEntries counts Go cache index entries (NN/HASH-a) under dir.
func countEntries(t *testing.T, dir string) int {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, "*", "*-a"))
	if err != nil {
		t.Fatal(err)
	}
	return len(found)
}

// Where the Go pack's GOCACHE is, without isolation: with no shared
// directory, the app's own layer; with one, a single writable cache (the
// steps run as the server's user, which can write every app's files),
// never the cache of older versions, which goes.
func TestGoCacheWithoutIsolation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		shared bool
		want   func(shared, cache string) string
	}{
		{"NoSharedDirectory", false, func(_, cache string) string { return filepath.Join(cache, goCacheDir, "upper") }},
		{"SharedDirectory", true, func(shared, _ string) string { return filepath.Join(shared, "go-build-shared") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, _, _ := newTestBuilder(t)
			if tt.shared {
				b.SharedCache = t.TempDir()
				writeFiles(t, b.SharedCache, map[string]string{"go-build/00/poisoned-a": "v1 ...", "go-mod/x": "x"})
			}
			s := &step{ctx: context.Background(), cacheDir: t.TempDir(), out: &lockedBuffer{}}
			dir, overlays, err := b.goCache(s, buildEnv(os.Environ(), nil))
			if err != nil || len(overlays) != 0 {
				t.Fatalf("goCache = %q, %v, %v", dir, overlays, err)
			}
			if want := tt.want(b.SharedCache, s.cacheDir); dir != want {
				t.Errorf("GOCACHE = %s, want %s", dir, want)
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				t.Errorf("GOCACHE is not a directory: %v", err)
			}
			if tt.shared {
				for _, old := range []string{"go-build", "go-mod"} {
					if _, err := os.Stat(filepath.Join(b.SharedCache, old)); err == nil {
						t.Errorf("the cache of older versions %s is still there", old)
					}
				}
			}
		})
	}
}

// onBuildDisk mounts the build disk of the app whose cache directory is
// cache, for f to look into.
func onBuildDisk(t *testing.T, b *Builder, cache string, f func(dir string)) {
	t.Helper()
	dir := t.TempDir()
	unmount, err := b.Sandbox.(DiskMounter).MountBuildDisk(filepath.Join(cache, buildDiskImage), b.Limits.WithDefaults().BuildBytes, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unmount()
	f(dir)
}
