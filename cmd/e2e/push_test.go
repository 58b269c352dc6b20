package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestPushToLive pushes each kind of app with the real git over ssh and
// checks it answers through the router.
func TestPushToLive(t *testing.T) {
	s := startServer(t)
	cases := []struct {
		app, dir, detected, body string
		tools                    []string
	}{
		{"proc-app", "procfile-app", "Procfile app detected", "hello from procfile", []string{"python3"}},
		{"go-app", "go-app", "Go app detected", "hello from go", []string{"go"}},
		{"node-app", "node-app", "Node.js app detected", "hello from node", []string{"node", "npm"}},
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			need(t, c.tools...)
			s.hako(t, "apps:create", c.app)
			out, err := s.push(repo(t, c.dir), s.key, c.app, "main")
			if err != nil {
				t.Fatalf("push: %v\n%s", err, out)
			}
			for _, want := range []string{"-----> " + c.detected, "Discovering process types", "Compressing...", "Done: ", "http://" + c.app + ".localhost:" + s.httpPort + "/ deployed to hako"} {
				if !strings.Contains(out, want) {
					t.Errorf("push output lacks %q:\n%s", want, out)
				}
			}
			if !released(out, 2) {
				t.Errorf("push output lacks Released v2:\n%s", out)
			}
			// The timing line follows the URL's.
			url, done := -1, -1
			timing := regexp.MustCompile(`^remote: -----> Done in \d+\.\d\d s \(receive \d+\.\d\d, build \d+\.\d\d, slug \d+\.\d\d, launch \d+\.\d\d\)\s*$`)
			for i, l := range lines(out) {
				switch {
				case strings.TrimSpace(l) == "remote:        http://"+c.app+".localhost:"+s.httpPort+"/ deployed to hako":
					url = i
				case timing.MatchString(l):
					done = i
				}
			}
			if url < 0 || done != url+1 {
				t.Errorf("push output lacks the timing line right after the URL's:\n%s", out)
			}
			s.waitBody(t, c.app, c.body)
			ds := s.dynos(t, c.app)
			if len(ds) != 1 || ds[0].Name != "web.1" || ds[0].State != "up" || ds[0].Release.Version != 2 {
				t.Errorf("dynos = %+v, want one web.1 up on v2", ds)
			}
		})
	}
}

// TestRedeployReplacesDyno checks that a second push serves the new code
// from a new dyno and that the old dyno is gone.
func TestRedeployReplacesDyno(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "again")
	dir := repo(t, "procfile-app")
	if out, err := s.push(dir, s.key, "again", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "again", "hello from procfile")
	before := s.dynos(t, "again")
	writeFile(t, dir, "index.html", "second version\n")
	git(t, dir, "commit", "-qam", "second")
	out, err := s.push(dir, s.key, "again", "main")
	if err != nil || !released(out, 3) {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	s.waitBody(t, "again", "second version")
	// git:remote names the app's remote, so a plain `git push hako main`
	// deploys.
	c := exec.Command(bin, "git:remote", "-a", "again")
	c.Dir, c.Env = dir, append(os.Environ(), "HAKO_HOME="+s.home)
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "set git remote hako to ssh://git@127.0.0.1:"+s.sshPort+"/again.git") {
		t.Fatalf("git:remote: %v\n%s", err, out)
	}
	// In the repository, commands find the app through that remote.
	ps := exec.Command(bin, "ps")
	ps.Dir, ps.Env = dir, append(os.Environ(), "HAKO_HOME="+s.home)
	if out, err := ps.CombinedOutput(); err != nil || !hasLineMatch(string(out), `web\.1: up .*`) {
		t.Errorf("ps without -a in the repository: %v\n%s", err, out)
	}
	writeFile(t, dir, "index.html", "third version\n")
	git(t, dir, "commit", "-qam", "third")
	p := exec.Command("git", "push", "hako", "main")
	p.Dir, p.Env = dir, append(os.Environ(), "GIT_SSH_COMMAND="+s.sshCommand(s.key))
	if out, err := p.CombinedOutput(); err != nil || !released(string(out), 4) {
		t.Fatalf("git push hako main: %v\n%s", err, out)
	}
	after := s.dynos(t, "again")
	if len(after) != 1 || after[0].Release.Version != 4 {
		t.Fatalf("after redeploy dynos = %+v, want one on v4", after)
	}
	if len(before) == 1 && processAlive(before[0].PID) {
		t.Errorf("old dyno (pid %d) still running after redeploy", before[0].PID)
	}
}
