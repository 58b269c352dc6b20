package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// TestRejectedPushes checks that every bad push is refused with a sentence
// saying what to do, and that the serving release keeps serving.
func TestRejectedPushes(t *testing.T) {
	need(t, "python3", "go")
	s := startServer(t)
	s.hako(t, "apps:create", "keeper")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "keeper", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "keeper", "hello from procfile")
	slugs := func() int {
		entries, err := os.ReadDir(filepath.Join(s.home, "slugs"))
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	before := slugs()

	cases := []struct {
		name string
		dir  func(t *testing.T) string
		app  string
		want []string
	}{
		{"broken build", func(t *testing.T) string { return repo(t, "broken-go") }, "keeper",
			[]string{"Push rejected, failed to compile Go app", "pre-receive hook declined"}},
		{"no language", func(t *testing.T) string { return repo(t, "no-language") }, "keeper",
			[]string{"No default language could be detected for this app", "pre-receive hook declined"}},
		{"bad procfile", func(t *testing.T) string { return repo(t, "bad-procfile") }, "keeper",
			[]string{"line 2", "pre-receive hook declined"}},
		{"empty commit", func(t *testing.T) string {
			dir := t.TempDir()
			git(t, dir, "init", "-q", "-b", "main")
			git(t, dir, "commit", "-q", "--allow-empty", "-m", "nothing")
			return dir
		}, "keeper", []string{"has no files", "pre-receive hook declined"}},
		{"unknown app", func(t *testing.T) string { return repo(t, "procfile-app") }, "nosuchapp",
			[]string{"App nosuchapp does not exist", "hako apps:create nosuchapp"}},
		{"invalid repo path", func(t *testing.T) string { return repo(t, "procfile-app") }, "../keeper",
			[]string{"is not an app"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := s.push(c.dir(t), s.key, c.app, "main", "--force")
			if err == nil {
				t.Fatalf("push succeeded, want it rejected:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			s.waitBody(t, "keeper", "hello from procfile")
			if info := s.hako(t, "apps:info", "-a", "keeper"); !hasLineMatch(info, `Release:\s+v2`) {
				t.Errorf("a rejected push changed the release:\n%s", info)
			}
			if n := slugs(); n != before {
				t.Errorf("a rejected push left %d slug files, want %d", n, before)
			}
		})
	}
}

// TestBranchesAndForcePush checks that other branches are stored but not
// deployed, and that a force-push deploys with an explanation.
func TestBranchesAndForcePush(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "branchy")
	dir := repo(t, "procfile-app")
	out, err := s.push(dir, s.key, "branchy", "main:feature")
	if err != nil || !strings.Contains(out, "Branch feature stored, not deployed") {
		t.Fatalf("branch push: %v\n%s", err, out)
	}
	if info := s.hako(t, "apps:info", "-a", "branchy"); !hasLineMatch(info, `Release:\s+v1`) {
		t.Errorf("a branch push deployed:\n%s", info)
	}
	if out, err := s.push(dir, s.key, "branchy", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	writeFile(t, dir, "index.html", "rewritten\n")
	git(t, dir, "commit", "-q", "-a", "--amend", "-m", "rewritten")
	out, err = s.push(dir, s.key, "branchy", "main", "--force")
	if err != nil || !strings.Contains(out, "Force push") || !released(out, 3) {
		t.Fatalf("force push: %v\n%s", err, out)
	}
	s.waitBody(t, "branchy", "rewritten")

	// The app's repository serves as its remote: clone and fetch work.
	clone := filepath.Join(t.TempDir(), "clone")
	c := exec.Command("git", "clone", "-q", fmt.Sprintf("ssh://git@127.0.0.1:%s/branchy.git", s.sshPort), clone)
	c.Env = append(os.Environ(), "GIT_SSH_COMMAND="+s.sshCommand(s.key))
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(clone, "index.html")); err != nil || string(b) != "rewritten\n" {
		t.Errorf("cloned index.html = %q, %v", b, err)
	}
	if out := git(t, clone, "branch", "-r"); !strings.Contains(out, "origin/feature") {
		t.Errorf("clone lacks the stored branch:\n%s", out)
	}
}
