package e2e

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRedisPlanMaxmemory checks that a mini Redis refuses writes past the
// plan's 25 MB with Redis's OOM error, from a one-off dyno, and runs in a
// memory cgroup of its own.
func TestRedisPlanMaxmemory(t *testing.T) {
	need(t, "python3", "redis-cli")
	needRootE2E(t)
	s := startServer(t)
	s.hako(t, "apps:create", "cache-full")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "cache-full", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.hako(t, "addons:create", "heroku-redis:mini", "-a", "cache-full")
	// 40 values of 1 MiB each, past 25 MB.
	script := `for i in $(seq 1 40); do redis-cli -u "$REDIS_URL" --no-auth-warning setrange "k$i" 1048575 x; done 2>&1 | sort | uniq -c | sed 's/^ *//'`
	out := s.hako(t, "run", "-a", "cache-full", "--no-tty", script)
	if !hasLineMatch(out, `\d+ OOM command not allowed when used memory > 'maxmemory'\.`) || !hasLineMatch(out, `\d+ 1048576`) {
		t.Errorf("writes past maxmemory, want some accepted, then OOM errors:\n%s", out)
	}

	u, err := url.Parse(strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "cache-full")))
	if err != nil {
		t.Fatal(err)
	}
	pid := listener(t, u.Port())
	if limit := memoryLimit(t, pid); limit != 2*25<<20+64<<20 {
		t.Errorf("redis-server (pid %s) has a memory limit of %d, want %d", pid, limit, 2*25<<20+64<<20)
	}
	info := s.hako(t, "addons:info", "REDIS", "-a", "cache-full")
	for _, re := range []string{`Plan:         heroku-redis:mini`, `Memory:       2\d\.\d MB / 25 MB \(maxmemory\)`, `Clients:      \d+/20`} {
		if !hasLineMatch(info, re) {
			t.Errorf("addons:info lacks a line matching %q:\n%s", re, info)
		}
	}
}

// TestPostgresPlanConnections checks that an essential-0 role gets its 20
// connections and not a 21st, while another app's role still connects,
// and that addons:info counts them and tells the database's size.
func TestPostgresPlanConnections(t *testing.T) {
	need(t, "psql")
	s := startServer(t)
	urls := map[string]string{}
	for _, app := range []string{"pg-greedy", "pg-other"} {
		s.hako(t, "apps:create", app)
		s.hako(t, "addons:create", "heroku-postgresql:essential-0", "-a", app)
		urls[app] = strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", app))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var sleepers []*exec.Cmd
	t.Cleanup(func() {
		cancel()
		for _, c := range sleepers {
			_ = c.Wait()
		}
	})
	for range 20 {
		c := exec.CommandContext(ctx, "psql", urls["pg-greedy"], "-w", "-tAc", "select pg_sleep(120)")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		sleepers = append(sleepers, c)
	}
	waitFor(t, 30*time.Second, "20 connections of pg-greedy", func() bool {
		return hasLine(s.hako(t, "addons:info", "DATABASE", "-a", "pg-greedy"), "Connections:  20/20")
	}, func() string { return s.hako(t, "addons:info", "DATABASE", "-a", "pg-greedy") })

	out, err := exec.Command("psql", urls["pg-greedy"], "-w", "-tAc", "select 'the 21st'").CombinedOutput()
	role := strings.TrimPrefix(mustURL(t, urls["pg-greedy"]).Path, "/")
	if err == nil || !strings.HasSuffix(strings.TrimSpace(string(out)), `FATAL:  too many connections for role "`+role+`"`) {
		t.Errorf("the 21st connection of an essential-0 role: %v\n%s", err, out)
	}
	if out, err := exec.Command("psql", urls["pg-other"], "-w", "-tAc", "select 'other app connects'").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "other app connects" {
		t.Errorf("another app's role while the first is at its limit: %v\n%s", err, out)
	}
	info := s.hako(t, "addons:info", "DATABASE", "-a", "pg-greedy")
	for _, re := range []string{`Plan:         heroku-postgresql:essential-0`, `Data Size:    \d+(\.\d)? MB / 1 GB \(in compliance\)`} {
		if !hasLineMatch(info, re) {
			t.Errorf("addons:info lacks a line matching %q:\n%s", re, info)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// memoryLimit returns the memory limit of the cgroup of process pid, under
// cgroup v2 or v1; 0 when it has none.
func memoryLimit(t *testing.T, pid string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var file string
		switch {
		case slices.Contains(strings.Split(f[1], ","), "memory"):
			file = filepath.Join("/sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes")
		case f[0] == "0" && f[1] == "":
			file = filepath.Join("/sys/fs/cgroup", f[2], "memory.max")
		default:
			continue
		}
		v, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64); err == nil && n < 1<<50 {
			return n
		}
	}
	return 0
}
