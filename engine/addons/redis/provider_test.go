package redis

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

func TestProvisionTwo(t *testing.T) {
	needRedis(t)
	for _, tt := range []struct {
		name      string
		dir       func(t *testing.T) string
		reachable bool
	}{
		{"reachable", reachableDir, true},
		// t.TempDir is 0700 and root's: nobody cannot reach it.
		{"unreachable", func(t *testing.T) string { return t.TempDir() }, os.Geteuid() != 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			p := newProvider(t, dir)
			_, a := provision(t, p, "redis-one")
			_, b := provision(t, p, "redis-two")
			if a["port"] == b["port"] || a["password"] == b["password"] {
				t.Fatalf("add-ons share a port or password: %v %v", a, b)
			}
			for _, rec := range []map[string]string{a, b} {
				if got, err := do(addr(rec), rec["password"], "PING"); err != nil || got != "PONG" {
					t.Errorf("%s: PING = %q, %v", rec["name"], got, err)
				}
				if _, err := do(addr(rec), strings.Repeat("0", 32), "PING"); err == nil {
					t.Errorf("%s: PING with a wrong password answered", rec["name"])
				}
				if _, err := do(addr(rec), rec["password"], "SET", "k", rec["name"]); err != nil {
					t.Errorf("%s: SET: %v", rec["name"], err)
				}
				if _, err := do(addr(rec), rec["password"], "CONFIG", "GET", "dir"); err == nil {
					t.Errorf("%s: CONFIG is enabled", rec["name"])
				}
			}
			if _, err := do(addr(a), b["password"], "PING"); err == nil {
				t.Error("one add-on's password opens the other")
			}
			for _, rec := range []map[string]string{a, b} {
				if got, err := do(addr(rec), rec["password"], "GET", "k"); err != nil || got != rec["name"] {
					t.Errorf("%s: GET = %q, %v", rec["name"], got, err)
				}
			}

			data := a["data"]
			if tt.reachable {
				if want := filepath.Join(dir, "redis-one", "data"); data != want {
					t.Errorf("data in %s, want %s", data, want)
				}
			} else if !strings.HasPrefix(data, fallbackRoot+"/") {
				t.Errorf("data in %s, want under %s", data, fallbackRoot)
			}
			fi, err := os.Stat(data)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("data directory mode %v", fi.Mode())
			}
			if os.Geteuid() == 0 {
				if st := fi.Sys().(*syscall.Stat_t); st.Uid != engine.AddonUID || st.Gid != engine.AddonUID {
					t.Errorf("data directory owned by %d:%d", st.Uid, st.Gid)
				}
			}
			conf, err := os.ReadFile(filepath.Join(dir, "redis-one", "redis.conf"))
			if err != nil || !strings.Contains(string(conf), "requirepass "+a["password"]) {
				t.Errorf("redis.conf: %v\n%s", err, conf)
			}
			if log, err := os.ReadFile(filepath.Join(data, "redis.log")); err != nil || !strings.Contains(string(log), "Ready to accept") {
				t.Errorf("redis.log: %v\n%s", err, log)
			}
			if _, _, err := p.Provision(context.Background(), "redis-one", ""); engine.ErrorCode(err) != engine.ECONFLICT {
				t.Errorf("Provision of an existing name: %v", err)
			}
		})
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	needRedis(t)
	for _, tt := range []struct {
		name string
		dir  func(t *testing.T) string
	}{{"reachable", reachableDir}, {"unreachable", func(t *testing.T) string { return t.TempDir() }}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			p := newProvider(t, dir)
			_, a := provision(t, p, "redis-a")
			_, b := provision(t, p, "redis-b")
			for _, rec := range []map[string]string{a, b} {
				if _, err := do(addr(rec), rec["password"], "SET", "kept", "v-"+rec["name"]); err != nil {
					t.Fatal(err)
				}
			}
			p.Stop()
			if answers(a) || answers(b) {
				t.Fatal("a server still answers after Stop")
			}

			p2 := newProvider(t, dir)
			resources := []map[string]string{a, b}
			if err := p2.Start(context.Background(), resources); err != nil {
				t.Fatal(err)
			}
			// Starting again leaves the running servers alone.
			if err := p2.Start(context.Background(), resources); err != nil {
				t.Fatal(err)
			}
			for _, rec := range resources {
				if got, err := do(addr(rec), rec["password"], "GET", "kept"); err != nil || got != "v-"+rec["name"] {
					t.Errorf("%s after restart: GET = %q, %v", rec["name"], got, err)
				}
			}
		})
	}
}

func TestDeprovision(t *testing.T) {
	needRedis(t)
	for _, tt := range []struct {
		name string
		dir  func(t *testing.T) string
	}{{"reachable", reachableDir}, {"unreachable", func(t *testing.T) string { return t.TempDir() }}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			p := newProvider(t, dir)
			_, gone := provision(t, p, "redis-gone")
			_, kept := provision(t, p, "redis-kept")
			if err := p.Deprovision(context.Background(), gone); err != nil {
				t.Fatal(err)
			}
			if answers(gone) {
				t.Error("the server still answers after Deprovision")
			}
			for _, path := range []string{filepath.Join(dir, "redis-gone"), gone["data"]} {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("%s remains: %v", path, err)
				}
			}
			if got, err := do(addr(kept), kept["password"], "PING"); err != nil || got != "PONG" {
				t.Errorf("the other add-on: PING = %q, %v", got, err)
			}
			// Gone already: nothing to do, no error.
			if err := p.Deprovision(context.Background(), gone); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestStopIdempotent(t *testing.T) {
	needRedis(t)
	p := newProvider(t, reachableDir(t))
	p.Stop() // nothing started yet
	_, rec := provision(t, p, "redis-stop")
	p.Stop()
	p.Stop()
	if answers(rec) {
		t.Error("the server still answers after Stop")
	}
	// The provider still works after Stop.
	if err := p.Start(context.Background(), []map[string]string{rec}); err != nil {
		t.Fatal(err)
	}
	if got, err := do(addr(rec), rec["password"], "PING"); err != nil || got != "PONG" {
		t.Errorf("PING after Stop and Start = %q, %v", got, err)
	}
}

func TestInvalidNames(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "redis")
	if err := os.MkdirAll(filepath.Join(root, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, dir)
	ctx := context.Background()
	for _, name := range []string{"../x", "", "A", "x/y", ".", "..", "-x", "1x", "x y", strings.Repeat("a", 101)} {
		if _, _, err := p.Provision(ctx, name, ""); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("Provision(%q): %v", name, err)
		}
		if err := p.Deprovision(ctx, map[string]string{"name": name}); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("Deprovision(%q): %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "x")); err != nil {
		t.Errorf("a directory outside the provider's was touched: %v", err)
	}
	good := map[string]string{"name": "redis-x", "port": "6399", "password": strings.Repeat("ab", 16)}
	for key, bad := range map[string]string{"name": "../x", "port": "0", "password": "short", "data": root} {
		rec := map[string]string{}
		for k, v := range good {
			rec[k] = v
		}
		rec[key] = bad
		if _, err := p.parse(rec); err == nil {
			t.Errorf("parse accepts %s=%q", key, bad)
		}
	}
	if _, err := p.parse(good); err != nil {
		t.Errorf("parse(%v): %v", good, err)
	}
}

func TestQuote(t *testing.T) {
	if got, want := quote("/a b/\"c\\\n"), `"/a b/\"c\\\x0a"`; got != want {
		t.Errorf("quote = %s, want %s", got, want)
	}
}

// TestServerDiesWithHako kills, with SIGKILL, a process that provisioned
// an add-on: its server must not outlive it.
func TestServerDiesWithHako(t *testing.T) {
	needRedis(t)
	dir := reachableDir(t)
	p := newProvider(t, dir) // for the leftover check and cleanup
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProvision$")
	cmd.Env = append(os.Environ(), "HAKO_REDIS_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	port, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	rec := map[string]string{"port": port}
	if !answers(rec) {
		t.Fatalf("the helper's server does not answer on %s", port)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(stopTimeout)
	for answers(rec) || len(leftovers(p)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server outlived its provider: %v", leftovers(p))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHelperProvision is the process TestServerDiesWithHako kills.
func TestHelperProvision(t *testing.T) {
	dir := os.Getenv("HAKO_REDIS_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	p := New(dir, Options{})
	_, rec, err := p.Provision(context.Background(), "redis-orphan", "")
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString(rec["port"] + " ready\n")
	time.Sleep(time.Minute)
}

func TestRedisMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	p := newProvider(t, t.TempDir())
	_, _, err := p.Provision(context.Background(), "redis-none", "")
	if engine.ErrorCode(err) != engine.EINVALID || !strings.Contains(engine.ErrorMessage(err), "apt-get install redis-server") {
		t.Errorf("Provision without redis-server: %v", err)
	}
	if err := p.Start(context.Background(), nil); err != nil {
		t.Errorf("Start with nothing to start: %v", err)
	}
	rec := map[string]string{"name": "redis-none", "port": "6399", "password": strings.Repeat("ab", 16)}
	if err := p.Start(context.Background(), []map[string]string{rec}); engine.ErrorCode(err) != engine.EINVALID {
		t.Errorf("Start without redis-server: %v", err)
	}
}

// TestRestartsAfterCrash kills a server with SIGKILL: it comes back on
// its port with its password and data; one killed and then deprovisioned
// before its restart is due stays gone.
func TestRestartsAfterCrash(t *testing.T) {
	needRedis(t)
	p := newProvider(t, reachableDir(t))
	_, rec := provision(t, p, "redis-crash")
	_, gone := provision(t, p, "redis-dropped")
	if _, err := do(addr(rec), rec["password"], "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := do(addr(rec), rec["password"], "SAVE"); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	pid := p.servers["redis-crash"].proc.Pid()
	p.mu.Unlock()
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := do(addr(rec), rec["password"], "GET", "k")
		if err == nil && got == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not come back with its data: %q, %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.mu.Lock()
	if s := p.servers["redis-crash"]; s == nil || s.proc.Pid() == pid {
		t.Error("no new server")
	}
	p.mu.Unlock()

	// Killed, then deprovisioned before its restart is due: it stays gone.
	p.mu.Lock()
	pid = p.servers["redis-dropped"].proc.Pid()
	p.mu.Unlock()
	syscall.Kill(pid, syscall.SIGKILL)
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		p.mu.Lock()
		_, running := p.servers["redis-dropped"]
		p.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the killed server is still listed")
		}
	}
	if err := p.Deprovision(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // past the first restart's delay
	if answers(gone) {
		t.Error("a deprovisioned add-on's server came back")
	}
}
