package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const startupCheck = `{"healthchecks": {"web": [{"type": "startup", "path": "/", "content": "go", "attempts": 2, "timeout": 2, "wait": 1}]}}`

// TestHealthcheckStartup deploys a release whose web dyno fails app.json's
// startup check under load: the push is refused with the check's words,
// the new dyno stops and the old release serves every request; then a
// release that passes it deploys.
func TestHealthcheckStartup(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	t.Cleanup(func() {
		if t.Failed() {
			var keep []string
			for _, l := range lines(s.out.String()) {
				if !strings.Contains(l, " status=200 ") {
					keep = append(keep, l)
				}
			}
			t.Logf("server output but the router's 200s:\n%s", strings.Join(keep, "\n"))
		}
	})
	s.hako(t, "apps:create", "checked")
	dir := appRepo(t, map[string]string{"Procfile": "web: python3 server.py\n", "server.py": pyServer, "app.json": startupCheck})
	if out, err := s.push(dir, s.key, "checked", "main"); err != nil || !hasRemoteLine(out, "       web.1: check-1 GET / passed") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "checked", "go")

	commitFile(t, dir, "fail_root", "")
	s.underLoad(t, "checked", "a failing startup check", func() {
		out, err := s.push(dir, s.key, "checked", "main")
		if err == nil || !hasRemoteLine(out, ` !     Health check check-1 failed: GET / answered 500, expected content "go"`) {
			t.Errorf("push failing its check: %v\n%s", err, out)
		}
	})
	if code, body, err := s.get("checked", "/"); code != 200 || body != "go" {
		t.Fatalf("after the failed deploy: %d %q %v", code, body, err)
	}
	if rels := s.hako(t, "releases", "-a", "checked"); !currentRelease(rels, 2) {
		t.Errorf("releases after the failed check:\n%s", rels)
	}
	waitFor(t, 20*time.Second, "only v2's web.1 to run", func() bool {
		ds := s.dynos(t, "checked")
		return len(ds) == 1 && ds[0].Release.Version == 2
	})
	// The load's router lines overrun the log's buffer: the server's own
	// output has every line.
	logs := s.out.String()
	if !hasLineMatch(logs, `checked \S+ heroku\[web\.1\]: `+regexp.QuoteMeta(`Health check check-1 failed: GET / answered 500, expected content "go"`)) {
		t.Errorf("the logs lack the failed check")
	}

	git(t, dir, "rm", "-q", "fail_root")
	git(t, dir, "commit", "-qm", "mend")
	if out, err := s.push(dir, s.key, "checked", "main"); err != nil || !released(out, 4) {
		t.Fatalf("push passing its check: %v\n%s", err, out)
	}
}

// TestHealthcheckLiveness makes a web dyno fail its liveness check and
// sees it replaced, logged; the app's first deploy ran its postdeploy
// script once, its output in the logs.
func TestHealthcheckLiveness(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "lively")
	dir := appRepo(t, map[string]string{
		"Procfile":  "web: python3 server.py\n",
		"server.py": pyServer,
		"app.json": `{"env": {"GREETING": "hi"}, "scripts": {"postdeploy": "echo seeded $GREETING", "dokku": {"predeploy": "echo before $HEROKU_RELEASE_VERSION", "postdeploy": "echo after"}},
  "healthchecks": {"web": [{"type": "liveness", "name": "live", "path": "/health", "attempts": 2, "wait": 1, "timeout": 1}]}}`,
	})
	out, err := s.push(dir, s.key, "lively", "main")
	if err != nil || !hasRemoteLine(out, "-----> Running postdeploy script...") || !hasRemoteLine(out, "       seeded hi") ||
		!hasRemoteLine(out, "       before v2") || !hasRemoteLine(out, "       after") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "lively", "go")
	pid := s.dynos(t, "lively")[0].PID
	if code, _, err := s.get("lively", "/sicken"); code != 200 {
		t.Fatalf("/sicken: %d %v", code, err)
	}
	waitFor(t, 30*time.Second, "web.1 to be replaced", func() bool {
		ds := s.dynos(t, "lively")
		return len(ds) == 1 && ds[0].PID != pid && ds[0].State == "up"
	})
	logs := s.hako(t, "logs", "-a", "lively", "-n", "500")
	for _, re := range []string{
		`\S+ heroku\[web\.1\]: Liveness check live failed \(2 of 2\): GET /health answered 500, expected 2xx`,
		`\S+ heroku\[web\.1\]: Restarting: liveness check live failed 2 times in a row`,
		`\S+ app\[postdeploy\.\d+\]: seeded hi`,
	} {
		if !hasLineMatch(logs, re) {
			t.Errorf("the logs lack %s:\n%s", re, logs)
		}
	}
	// The new dyno is healthy: it stays.
	if code, body, _ := s.get("lively", "/health"); code != 200 || body != "go" {
		t.Errorf("/health after the restart: %d %q", code, body)
	}
	// postdeploy runs after the first deploy only.
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "x")
	if out, err := s.push(dir, s.key, "lively", "main"); err != nil || hasRemoteLine(out, "-----> Running postdeploy script...") ||
		!hasRemoteLine(out, "       before v3") || !hasRemoteLine(out, "       after") {
		t.Fatalf("second push: %v\n%s", err, out)
	}
}
