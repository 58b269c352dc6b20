package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestPrebootZeroFailedRequests checks that every operation that replaces
// web dynos starts the new one, waits until it is up, switches the
// router, and only then stops the old one: under continuous load, not one
// request fails, with one web dyno or two.
func TestPrebootZeroFailedRequests(t *testing.T) {
	need(t, "python3")
	s := startServer(t, "--stop-grace", "3s")
	s.hako(t, "apps:create", "steady")
	dir := repo(t, "env-app")
	if out, err := s.push(dir, s.key, "steady", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitPath(t, "steady", "/", "env-app")
	pidOf := func(name string) int {
		for _, d := range s.dynos(t, "steady") {
			if d.Name == name {
				return d.PID
			}
		}
		return 0
	}
	replaced := func(what, name string, before int) {
		t.Helper()
		if after := pidOf(name); after == 0 || after == before {
			t.Errorf("%s: %s not replaced (pid %d, before %d)", what, name, after, before)
		}
		if processAlive(before) {
			t.Errorf("%s: the old %s (pid %d) still runs", what, name, before)
		}
	}
	for _, web := range []string{"1", "2"} {
		if web == "2" {
			s.hako(t, "ps:scale", "web=2", "-a", "steady")
		}
		before := pidOf("web.1")
		s.underLoad(t, "steady", "ps:restart with web="+web, func() { s.hako(t, "ps:restart", "-a", "steady") })
		replaced("ps:restart with web="+web, "web.1", before)

		before = pidOf("web.1")
		s.underLoad(t, "steady", "config:set with web="+web, func() { s.hako(t, "config:set", "ROUND="+web, "-a", "steady") })
		replaced("config:set with web="+web, "web.1", before)
		s.waitPath(t, "steady", "/env/ROUND", web)

		before = pidOf("web.1")
		s.underLoad(t, "steady", "ps:stop web.1 with web="+web, func() { s.hako(t, "ps:stop", "web.1", "-a", "steady") })
		replaced("ps:stop web.1 with web="+web, "web.1", before)

		before = pidOf("web.1")
		writeFile(t, dir, "deployed.txt", "round "+web+"\n")
		git(t, dir, "add", "-A")
		git(t, dir, "commit", "-qm", "round "+web)
		s.underLoad(t, "steady", "a deploy with web="+web, func() {
			if out, err := s.push(dir, s.key, "steady", "main"); err != nil {
				t.Fatalf("push: %v\n%s", err, out)
			}
		})
		replaced("a deploy with web="+web, "web.1", before)
	}
	ds := s.dynos(t, "steady")
	if len(ds) != 2 || ds[0].State != "up" || ds[1].State != "up" {
		t.Errorf("dynos after the operations: %+v", ds)
	}
}

// TestCyclingPreboot checks daily cycling: with a short --cycle-after,
// each web dyno is replaced by a new process that is up before the old
// one stops, so no request fails across several cycles.
func TestCyclingPreboot(t *testing.T) {
	need(t, "python3")
	s := startServer(t, "--cycle-after", "1500ms", "--stop-grace", "3s")
	s.hako(t, "apps:create", "cycler")
	if out, err := s.push(repo(t, "env-app"), s.key, "cycler", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitPath(t, "cycler", "/", "env-app")
	first := s.dynos(t, "cycler")[0].PID
	// The server's output mirrors every log line; the app's own log keeps
	// only the last 1,500, which the load's router lines fill.
	cycles := func() int { return strings.Count(s.out.String(), " heroku[web.1]: Cycling\n") }
	l := s.startLoad(t, "cycler", 4)
	waitFor(t, 20*time.Second, "three cycles", func() bool { return cycles() >= 3 }, func() string { return s.out.String() })
	total, failed, firstFail := l.finish()
	t.Logf("cycling: %d requests, %d failed", total, failed)
	if failed != 0 {
		t.Errorf("cycling: %d of %d requests failed (first: %s)", failed, total, firstFail)
	}
	d := s.dynos(t, "cycler")[0]
	if d.PID == first || d.State != "up" {
		t.Errorf("after cycling web.1 = %+v, first pid %d", d, first)
	}
	if processAlive(first) {
		t.Errorf("the first process of web.1 (pid %d) still runs after cycling", first)
	}
}
