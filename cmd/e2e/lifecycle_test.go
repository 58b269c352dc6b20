package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestShutdownAndRestore checks that stopping the server stops its dynos,
// and that the next start serves every app again from the store.
func TestShutdownAndRestore(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "durable")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "durable", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "durable", "hello from procfile")
	ds := s.dynos(t, "durable")
	if len(ds) != 1 || ds[0].PID == 0 {
		t.Fatalf("dynos = %+v", ds)
	}
	s.stop()
	if processAlive(ds[0].PID) {
		t.Errorf("dyno pid %d outlived the server", ds[0].PID)
	}
	if !strings.Contains(s.out.String(), "hako is running") {
		t.Errorf("no banner:\n%s", s.out.String())
	}
	s.start()
	s.waitBody(t, "durable", "hello from procfile")

	// Unknown hosts get a page naming hako; apps without dynos get 503.
	code, body, err := s.get("nowhere", "/")
	if err != nil || code != 404 || !strings.Contains(strings.ToLower(body), "hako") {
		t.Errorf("unknown host: %d %v %q", code, err, body)
	}
	s.hako(t, "apps:create", "idle-app")
	if code, _, _ := s.get("idle-app", "/"); code != 503 {
		t.Errorf("app without dynos: status %d, want 503", code)
	}

	// Killed outright, the server takes its dynos with it; the next start
	// brings back every app's formation on its current release.
	s.hako(t, "ps:scale", "web=2", "-a", "durable")
	ds = s.dynos(t, "durable")
	if len(ds) != 2 {
		t.Fatalf("dynos = %+v, want 2", ds)
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	for _, d := range ds {
		waitFor(t, 10*time.Second, "dyno to die with the server", func() bool { return !processAlive(d.PID) })
	}
	s.start()
	s.waitBody(t, "durable", "hello from procfile")
	waitFor(t, 10*time.Second, "both web dynos back", func() bool { return len(s.dynos(t, "durable")) == 2 })
	if info := s.hako(t, "apps:info", "-a", "durable"); !hasLineMatch(info, `Release:\s+v2`) {
		t.Errorf("release lost across a SIGKILL:\n%s", info)
	}
}

// TestBootTimeout checks Heroku's R10: a web dyno that never binds $PORT
// is killed, the release it belongs to never goes live (the push is
// refused and says so), and the logs explain.
func TestBootTimeout(t *testing.T) {
	s := startServer(t, "--boot-timeout", "1s", "--stop-grace", "2s")
	s.hako(t, "apps:create", "sleepy")
	out, err := s.push(repo(t, "no-bind"), s.key, "sleepy", "main")
	if err == nil || !hasPaddedLine(out, "remote:  !     Release v2 failed: web.1 crashed before it came up; v1 keeps serving. `hako logs -a sleepy` shows why.") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	logs := s.hako(t, "logs", "-a", "sleepy")
	for _, want := range []string{"Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 1 second of launch", "State changed from starting to crashed", "starting but never binding", "Release v2 failed: web.1 crashed before it came up"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if code, body, _ := s.get("sleepy", "/"); code != 503 || !strings.Contains(body, "Application error") {
		t.Errorf("router for an app that never went live: %d %q", code, body)
	}
	if rels := s.hako(t, "releases", "-a", "sleepy", "--json"); !strings.Contains(rels, `"status": "failed"`) {
		t.Errorf("v2 not marked failed:\n%s", rels)
	}
	if info := s.hako(t, "apps:info", "-a", "sleepy"); strings.Contains(info, "v2") {
		t.Errorf("v2 went live:\n%s", info)
	}
	if out, err := s.run("server", "--boot-timeout", "0s"); err == nil || !strings.Contains(out, "--boot-timeout must be a positive duration") {
		t.Errorf("bad --boot-timeout: %v\n%s", err, out)
	}
}
