package buildpacks

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// needTools skips the test when one of the host toolchains it needs is
// missing, except in CI where every toolchain must be installed.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI: %v", tool, err)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

// copyApp copies testdata/apps/name to a fresh directory, as a push would
// check it out, so that builds never modify the shared test apps.
func copyApp(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("..", "testdata", "apps", name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// newTestBuilder returns a Builder over fresh slug and work directories.
func newTestBuilder(t *testing.T) (b *Builder, slugDir, workDir string) {
	t.Helper()
	root := t.TempDir()
	slugDir = filepath.Join(root, "slugs")
	workDir = filepath.Join(root, "work")
	b, err := New(slugDir, workDir)
	if err != nil {
		t.Fatal(err)
	}
	return b, slugDir, workDir
}

// writeFiles creates files under dir; files under a bin/ directory are
// made executable, as buildpack scripts must be.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(0o644)
		if strings.Contains(name, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// lockedBuffer collects build output written by concurrent copiers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// leftovers returns what a build left in workDir besides the built-in packs.
func leftovers(t *testing.T, workDir string) []string {
	var extra []string
	for _, n := range listDir(t, workDir) {
		if !strings.HasPrefix(n, "packs-") {
			extra = append(extra, n)
		}
	}
	return extra
}
