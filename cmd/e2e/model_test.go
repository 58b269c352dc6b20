package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConfigReleasesRollback walks Heroku's app model: config changes as
// releases, the release phase, rollback to an earlier slug and config.
func TestConfigReleasesRollback(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "model")
	out, err := s.push(repo(t, "env-app"), s.key, "model", "main")
	if err != nil || !hasLineMatch(out, `remote:\s+release phase ran for v2\s*`) || !released(out, 2) {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "model", "env-app")

	tricky := "a b=c 'q' \"dq\" $HOME\nsecond line ✓"
	out = s.hako(t, "config:set", "-a", "model", "FOO="+tricky, "BAR=1")
	if !hasLine(out, "Setting BAR and FOO and restarting ⬢ model... done, v3") {
		t.Errorf("config:set output:\n%s", out)
	}
	if got := s.hako(t, "config:get", "FOO", "-a", "model"); got != tricky+"\n" {
		t.Errorf("config:get FOO = %q, want %q", got, tricky)
	}
	s.waitPath(t, "model", "/env/FOO", tricky)
	if out := s.hako(t, "config", "-a", "model", "--shell"); !hasLine(out, "BAR='1'") {
		t.Errorf("config --shell:\n%s", out)
	}

	// A failing release phase marks the release failed and changes nothing.
	out, err = s.run("config:set", "-a", "model", "FAIL_RELEASE=1")
	if err == nil || !hasLine(out, "Setting FAIL_RELEASE and restarting ⬢ model... failed") {
		t.Errorf("config:set with a failing release phase: %v\n%s", err, out)
	}
	if got := s.hako(t, "config:get", "FAIL_RELEASE", "-a", "model"); got != "\n" {
		t.Errorf("failed release changed config: FAIL_RELEASE=%q", got)
	}
	rels := s.hako(t, "releases", "-a", "model")
	if !currentRelease(rels, 3) {
		t.Errorf("releases: v3 is not current:\n%s", rels)
	}
	for _, want := range []string{`v4\s+.*release command failed.*`, `v3\s+Set BAR, FOO config vars\s.*`, `v2\s+Deploy [0-9a-f]{7}\s.*`, `v1\s+Initial release\s.*`} {
		if !hasLineMatch(rels, want) {
			t.Errorf("releases lacks a line %q:\n%s", want, rels)
		}
	}

	out = s.hako(t, "config:unset", "BAR", "-a", "model")
	if !hasLine(out, "Unsetting BAR and restarting ⬢ model... done, v5") {
		t.Errorf("config:unset:\n%s", out)
	}
	out = s.hako(t, "releases:rollback", "v2", "-a", "model")
	if !hasLine(out, "Rolling back ⬢ model to v2... done, v6") {
		t.Errorf("rollback:\n%s", out)
	}
	s.waitPath(t, "model", "/env/FOO", "<unset>")
	info := s.hako(t, "releases:info", "-a", "model")
	if !strings.Contains(info, "Rollback to v2") {
		t.Errorf("releases:info:\n%s", info)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"config:set", "-a", "model", "PORT=1"}, "PORT cannot be set"},
		{[]string{"config:set", "-a", "model", "__X=1"}, "reserved"},
		{[]string{"config:set", "-a", "model", "BAD-KEY=1"}, "letters, digits and underscores"},
		{[]string{"config:set", "-a", "model", "BIG=" + strings.Repeat("x", 40*1024)}, "32 KB"},
		{[]string{"config:unset", "-a", "model", "NEVER_SET"}, "is not set"},
		{[]string{"releases:rollback", "v99", "-a", "model"}, "not found"},
		{[]string{"releases:rollback", "v1", "-a", "model"}, "no slug"},
	} {
		out, err := s.run(c.args...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%v: err=%v, want failure mentioning %q:\n%s", c.args[:2], err, c.want, out)
		}
	}
	if rels := s.hako(t, "releases", "-a", "model"); !currentRelease(rels, 6) || hasLineMatch(rels, `v7\s.*`) {
		t.Errorf("refused changes wrote releases:\n%s", rels)
	}
}

// TestConcurrentConfig checks that simultaneous config changes all land
// with distinct versions and no lost update.
func TestConcurrentConfig(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "racy")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if out, err := s.run("config:set", "-a", "racy", fmt.Sprintf("K%d=%d", i, i)); err != nil {
				errs <- fmt.Errorf("%v: %s", err, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cfg := s.config(t, "racy")
	for i := 0; i < 8; i++ {
		if k := fmt.Sprintf("K%d", i); cfg[k] != fmt.Sprint(i) {
			t.Errorf("%s lost: %v", k, cfg)
		}
	}
	if rels := s.hako(t, "releases", "-a", "racy"); !currentRelease(rels, 9) {
		t.Errorf("want v2..v9 from 8 changes:\n%s", rels)
	}
}

// scaledApp starts a server with the app scaly pushed from env-app and
// scaled to two web dynos and a worker.
func scaledApp(t *testing.T) (*server, string) {
	t.Helper()
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "scaly")
	if out, err := s.push(repo(t, "env-app"), s.key, "scaly", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	return s, s.hako(t, "ps:scale", "web=2", "worker=1", "-a", "scaly")
}

// TestScale checks formation changes: scaling up starts the dynos ps
// lists, bad quantities and types are refused, scaling down stops the
// processes, and the log tells each step.
func TestScale(t *testing.T) {
	s, out := scaledApp(t)
	if !hasLineMatch(out, `.*done, now running web at 2:Basic, worker at 1:Basic`) {
		t.Errorf("ps:scale:\n%s", out)
	}
	ps := s.hako(t, "ps", "-a", "scaly")
	for _, want := range []string{`=== web \(Basic\): python3 server\.py \(2\)`, `web\.1: up .*`, `web\.2: up .*`, `=== worker \(Basic\): python3 worker\.py \(1\)`, `worker\.1: up .*`} {
		if !hasLineMatch(ps, want) {
			t.Errorf("ps lacks %q:\n%s", want, ps)
		}
	}
	for _, c := range []struct{ arg, want string }{
		{"bogus=1", "Known types: web, worker"},
		{"web=101", "caps each process type at 100"},
		{"web=-1", "quantities start at 0"},
		{"web", "is not TYPE=N"},
	} {
		out, err := s.run("ps:scale", c.arg, "-a", "scaly")
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("ps:scale %s: err=%v, want %q:\n%s", c.arg, err, c.want, out)
		}
	}
	// The worker has run once before it is scaled away.
	waitFor(t, 20*time.Second, "the worker's first tick", func() bool {
		return hasLineMatch(s.hako(t, "logs", "-a", "scaly", "-n", "1500"), `\S+ app\[worker\.1\]: worker worker\.1 tick.*`)
	})
	before := s.dynos(t, "scaly")
	s.hako(t, "ps:scale", "web=1", "worker=0", "-a", "scaly")
	if ds := s.dynos(t, "scaly"); len(ds) != 1 || ds[0].Name != "web.1" {
		t.Errorf("after scaling down: %+v", ds)
	}
	for _, d := range before {
		if d.Name != "web.1" && processAlive(d.PID) {
			t.Errorf("%s (pid %d) still runs after scaling down", d.Name, d.PID)
		}
	}
	logs := s.hako(t, "logs", "-a", "scaly", "-n", "1500")
	for _, want := range []string{`\S+ heroku\[web\.2\]: State changed from starting to up`, `\S+ app\[api\]: Scaled to web@2:Basic worker@1:Basic by user .*`, `\S+ app\[worker\.1\]: worker worker\.1 tick.*`} {
		if !hasLineMatch(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

// TestRestartOneDyno checks that ps:restart of one dyno gives it a new
// process and leaves the others alone.
func TestRestartOneDyno(t *testing.T) {
	s, _ := scaledApp(t)
	before := s.dynos(t, "scaly")
	s.hako(t, "ps:restart", "web.1", "-a", "scaly")
	after := s.dynos(t, "scaly")
	pids := map[string]int{}
	for _, d := range before {
		pids[d.Name] = d.PID
	}
	for _, d := range after {
		switch {
		case d.Name == "web.1" && d.PID == pids["web.1"]:
			t.Errorf("web.1 kept pid %d across a restart", d.PID)
		case d.Name != "web.1" && d.PID != pids[d.Name]:
			t.Errorf("%s restarted though only web.1 was asked", d.Name)
		}
	}
}
