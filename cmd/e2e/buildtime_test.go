package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuildTimeout: a build whose script never ends (a Node app's build
// script sleeping) is stopped at --build-timeout, the push is refused
// with a line naming the limit, no release is made, nothing of the build
// runs on, and the app deploys again at once (its lock is free).
func TestBuildTimeout(t *testing.T) {
	need(t, "node", "npm", "pgrep")
	s := startServer(t, "--build-timeout", "5s")
	s.hako(t, "apps:create", "sleeper")
	dir := repo(t, "node-app")
	pkg := `{"name": "sleeper", "version": "1.0.0", "private": true, "scripts": {"start": "node server.js", "build": "sleep 6127"}}`
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pkg), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "a build that never ends")
	start := time.Now()
	out, err := s.push(dir, s.key, "sleeper", "main")
	if err == nil || !hasRemoteLine(out, " !     The build ran past its limit of 5s (--build-timeout).") {
		t.Fatalf("a build past its time: %v\n%s", err, out)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("the refused push took %v", took)
	}
	if rels := s.hako(t, "releases", "-a", "sleeper"); strings.Contains(rels, "Deploy") {
		t.Errorf("a release was made:\n%s", rels)
	}
	waitFor(t, 20*time.Second, "the build's sleep to end", func() bool {
		return exec.Command("pgrep", "-f", "sleep 6127").Run() != nil
	})
	// The lock is free: a build that ends in time deploys.
	if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte("web: node server.js\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "rm", "-q", "package.json")
	git(t, dir, "add", "Procfile")
	git(t, dir, "commit", "-qm", "a build that ends")
	if out, err := s.push(dir, s.key, "sleeper", "main"); err != nil || !released(out, 2) {
		t.Fatalf("the next push: %v\n%s", err, out)
	}
}
