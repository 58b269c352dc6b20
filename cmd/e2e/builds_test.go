package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBuildsCreateWatch deploys a directory without git push, then keeps
// watching it: a saved change is built and released, a broken one is
// refused while the last release keeps serving.
func TestBuildsCreateWatch(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "watched")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(testdataDir(), "apps", "procfile-app"))); err != nil {
		t.Fatal(err)
	}
	out := s.hako(t, "builds:create", "-a", "watched", "--dir", dir)
	if !strings.Contains(out, "Uploading 2 files") || !released(out, 2) {
		t.Fatalf("builds:create:\n%s", out)
	}
	s.waitBody(t, "watched", "hello from procfile")

	w := exec.Command(bin, "builds:create", "-a", "watched", "--dir", dir, "--watch")
	w.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	wout := &syncBuffer{}
	w.Stdout, w.Stderr = wout, wout
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.Process.Signal(syscall.SIGINT)
		_ = w.Wait()
	})
	waitFor(t, 30*time.Second, "the first watched build", func() bool { return strings.Contains(wout.String(), "Watching") }, wout.String)
	writeFile(t, dir, "index.html", "changed while watched\n")
	s.waitBody(t, "watched", "changed while watched")
	writeFile(t, dir, "Procfile", "web python3 -m http.server $PORT\n")
	waitFor(t, 30*time.Second, "the broken build to be refused", func() bool {
		return strings.Contains(wout.String(), "Build failed: the last release keeps serving")
	}, wout.String)
	s.waitBody(t, "watched", "changed while watched")
	if !strings.Contains(wout.String(), "index.html changed: building again") {
		t.Errorf("watch output:\n%s", wout.String())
	}
	_ = w.Process.Signal(syscall.SIGINT)
	if err := w.Wait(); err != nil {
		t.Errorf("watch did not end cleanly on SIGINT: %v", err)
	}
	if out, err := s.run("builds:create", "-a", "ghost-app", "--dir", dir); err == nil || !strings.Contains(out, "Couldn't find that app") {
		t.Errorf("builds:create to a missing app: %v\n%s", err, out)
	}
}
