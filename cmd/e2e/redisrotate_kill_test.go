package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRedisResetKilled kills the server with SIGKILL in the middle of a
// redis:credentials --reset, once the real redis-server has the new
// password and the first app its release with the new URL, while the
// second app's release runs its release phase (which sleeps), then
// starts it again: the start finishes the reset, so that both apps hold
// the same new URL, their dynos see it, the real redis-server takes it
// and keeps the data, and refuses the old one.
func TestRedisResetKilled(t *testing.T) {
	need(t, "python3", "redis-cli")
	s := startServer(t)
	for _, app := range []string{"rot-owner", "rot-reader"} {
		s.hako(t, "apps:create", app)
		dir := repo(t, "env-app")
		if app == "rot-reader" {
			writeFile(t, dir, "Procfile", "web: python3 server.py\nrelease: python3 release.py && sleep 4.321\n")
			git(t, dir, "commit", "-qam", "a slow release phase")
		}
		if out, err := s.push(dir, s.key, app, "main"); err != nil {
			t.Fatalf("push %s: %v\n%s", app, err, out)
		}
	}
	s.hako(t, "addons:create", "heroku-redis", "-a", "rot-owner", "--as", "CACHE")
	addon := (&herokuEnv{t: t, s: s}).addonName("rot-owner", "CACHE")
	s.hako(t, "addons:attach", addon, "--as", "SHARED", "-a", "rot-reader")
	old := strings.TrimSpace(s.hako(t, "config:get", "CACHE_URL", "-a", "rot-owner"))
	if out, err := redisCLIOut(old, "set", "kept", "45"); err != nil || out != "OK\n" {
		t.Fatalf("redis-cli set: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "rot-reader's release phase to end", func() bool { return len(processesWithArg("4.321")) == 0 })

	reset := exec.Command(bin, "redis:credentials", "--reset", "-a", "rot-owner")
	reset.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	var out strings.Builder
	reset.Stdout, reset.Stderr = &out, &out
	if err := reset.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "rot-reader's release phase in the reset", func() bool { return len(processesWithArg("4.321")) > 0 },
		func() string { return out.String() })
	mid := strings.TrimSpace(s.hako(t, "config:get", "CACHE_URL", "-a", "rot-owner"))
	if mid == old {
		t.Fatalf("rot-owner's release was not made before rot-reader's")
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	if err := reset.Wait(); err == nil {
		t.Fatalf("the reset succeeded though the server was killed:\n%s", out.String())
	}

	s.start()
	// The start finishes the reset once the apps are restored.
	var owner, reader string
	waitFor(t, 90*time.Second, "both apps to hold the same new URL", func() bool {
		owner = strings.TrimSpace(s.hako(t, "config:get", "CACHE_URL", "-a", "rot-owner"))
		reader = strings.TrimSpace(s.hako(t, "config:get", "SHARED_URL", "-a", "rot-reader"))
		return owner == mid && reader == mid
	}, func() string { return fmt.Sprintf("rot-owner %q, rot-reader %q, the reset set %q", owner, reader, mid) })
	var got string
	waitFor(t, 30*time.Second, "the new URL to reach the data", func() bool {
		got, _ = redisCLIOut(mid, "get", "kept")
		return got == "45\n"
	}, func() string { return got })
	if out, _ := redisCLIOut(old, "get", "kept"); !hasLine(out, redisAuthFailed) {
		t.Errorf("redis-cli with the old URL:\n%s", out)
	}
	s.waitPath(t, "rot-owner", "/env/CACHE_URL", mid)
	s.waitPath(t, "rot-reader", "/env/SHARED_URL", mid)
	if out := s.hako(t, "redis:credentials", "-a", "rot-reader"); out != mid+"\n" {
		t.Errorf("redis:credentials -a rot-reader = %q, want %q", out, mid)
	}
	// Recorded: the next start keeps the new password.
	s.stop()
	s.start()
	waitFor(t, 30*time.Second, "Redis after a second start", func() bool {
		got, _ = redisCLIOut(mid, "get", "kept")
		return got == "45\n"
	}, func() string { return got })
	if got := strings.TrimSpace(s.hako(t, "config:get", "SHARED_URL", "-a", "rot-reader")); got != mid {
		t.Errorf("after a second start, rot-reader's SHARED_URL = %q, want %q", got, mid)
	}
}
