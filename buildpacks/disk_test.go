package buildpacks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
	"hako/engine/dyno"
)

// noDisks is a sandbox on a host without loop devices: it isolates, but
// cannot give builds a disk.
type noDisks struct{ *dyno.Supervisor }

func (noDisks) MountBuildDisk(image string, size int64, dir string) (func() error, error) {
	return nil, errors.New("no loop devices")
}

// TestBuildDiskMissing checks that a build on a host that cannot give it
// a disk still builds, bounded file by file, and says so; and that with
// a disk the build leaves the app's cache directory holding the disk
// alone, whatever an older server kept there.
func TestBuildDiskMissing(t *testing.T) {
	b, workDir, scratch := sandboxed(t)
	cache := filepath.Join(t.TempDir(), "cache")
	if err := os.MkdirAll(filepath.Join(cache, "go-build", "upper"), 0o755); err != nil {
		t.Fatal(err)
	}
	build := func() string {
		t.Helper()
		var out lockedBuffer
		if _, err := b.Build(context.Background(), engine.BuildRequest{App: "disk", SourceDir: copyApp(t, "procfile-app"), CacheDir: cache, Out: &out}); err != nil {
			t.Fatalf("build: %v\n%s", err, out.String())
		}
		checkClean(t, workDir, scratch)
		return out.String()
	}
	out := build()
	if strings.Contains(out, "Warning: no build disk") {
		t.Errorf("a build with a disk warns:\n%s", out)
	}
	entries, _ := os.ReadDir(cache)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != buildDiskImage+" "+buildDiskImage+".lock" {
		t.Errorf("the cache directory holds %v, want the build disk and its lock", names)
	}

	b.Sandbox = noDisks{b.Sandbox.(*dyno.Supervisor)}
	if out := build(); !strings.Contains(out, "-----> Warning: no build disk on this server (no loop devices); the build's files are bounded one by one\n") {
		t.Errorf("a build without a disk does not say so:\n%s", out)
	}
}
