package e2e

import (
	"bufio"
	"crypto/rand"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// diskUse is what the files under path take on disk, in bytes, as du
// counts it (allocated blocks).
func diskUse(t *testing.T, path string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while walking
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatalf("measure %s: %v", path, err)
	}
	return total
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// bigApp is a Procfile app carrying size bytes of random data, which
// neither git nor the slug's gzip can compress.
func bigApp(t *testing.T, size int) string {
	t.Helper()
	dir := repo(t, "procfile-app")
	f, err := os.Create(filepath.Join(dir, "blob.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, int64(size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "big")
	return dir
}

// TestDiskUnpackedShared checks that config releases share one unpacked
// slug, that slugs no release needs are collected, that a one-off dyno
// keeps its slug until it ends, and that rollback still works.
func TestDiskUnpackedShared(t *testing.T) {
	need(t, "python3")
	const blob = 50 << 20
	s := startServer(t)
	s.hako(t, "apps:create", "big")
	dir := bigApp(t, blob)
	if out, err := s.push(dir, s.key, "big", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitPath(t, "big", "/", "v1\n")
	run := filepath.Join(s.home, "run")
	appRun := filepath.Join(run, "big")
	first := entries(t, appRun)
	if len(first) != 1 {
		t.Fatalf("unpacked slugs after the first deploy: %v, want one", first)
	}
	one := diskUse(t, filepath.Join(appRun, first[0]))
	if one < blob {
		t.Fatalf("one unpacked slug takes %d bytes, less than its %d-byte blob", one, blob)
	}

	// A one-off dyno on the first slug, waiting for a line.
	c := exec.Command(bin, "run", "-a", "big", "--no-tty", "echo ready; read line; cat /app/index.html; wc -c < /app/blob.bin")
	c.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	lines := bufio.NewScanner(outR)
	ready := false
	for !ready && lines.Scan() {
		ready = lines.Text() == "ready"
	}
	if !ready {
		t.Fatalf("the one-off dyno never said ready")
	}

	for i := 0; i < 10; i++ {
		s.hako(t, "config:set", "-a", "big", "ROUND="+string(rune('a'+i)))
	}
	used := diskUse(t, run)
	t.Logf("run/ after 10 config releases: %d MiB (one unpacked slug: %d MiB)", used>>20, one>>20)
	if used >= 3*one {
		t.Errorf("run/ takes %d bytes after 10 config releases, want under 3 unpacked slugs (%d)", used, 3*one)
	}
	if got := entries(t, appRun); !slices.Equal(got, first) {
		t.Errorf("unpacked slugs after 10 config releases: %v, want %v", got, first)
	}

	// Two new slugs: the first is then neither current nor previous, but
	// the one-off dyno still runs on it.
	for _, v := range []string{"v2", "v3"} {
		if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, dir, "commit", "-qam", v)
		if out, err := s.push(dir, s.key, "big", "main"); err != nil {
			t.Fatalf("push %s: %v\n%s", v, err, out)
		}
		s.waitPath(t, "big", "/", v+"\n")
	}
	if got := entries(t, appRun); len(got) != 3 || !slices.Contains(got, first[0]) {
		t.Errorf("unpacked slugs while the one-off runs on the first: %v, want 3 with %s", got, first[0])
	}
	if _, err := in.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	in.Close()
	var rest []string
	for lines.Scan() {
		rest = append(rest, strings.TrimSpace(lines.Text()))
	}
	if err := c.Wait(); err != nil || !slices.Equal(rest, []string{"v1", "52428800"}) {
		t.Errorf("one-off dyno after two deploys: %v, printed %q, want v1 and 52428800", err, rest)
	}
	waitFor(t, 10*time.Second, "the first slug to be collected after the one-off ended", func() bool {
		got := entries(t, appRun)
		return len(got) == 2 && !slices.Contains(got, first[0])
	}, func() string { return strings.Join(entries(t, appRun), " ") })

	// The previous slug is still unpacked: a rollback needs no unpacking.
	s.hako(t, "releases:rollback", "-a", "big")
	s.waitPath(t, "big", "/", "v2\n")
	if got := entries(t, appRun); len(got) != 2 {
		t.Errorf("unpacked slugs after the rollback: %v, want 2", got)
	}
	// And a rollback to a collected slug unpacks it again.
	rels := s.hako(t, "releases", "-a", "big")
	if !strings.Contains(rels, "Deploy") {
		t.Fatalf("releases:\n%s", rels)
	}
	s.hako(t, "releases:rollback", "-a", "big", "v2")
	s.waitPath(t, "big", "/", "v1\n")
	t.Logf("run/ at the end: %d MiB", diskUse(t, run)>>20)
}
