package localproc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sh starts a shell script as a server in a process group of its own.
func sh(t *testing.T, script string, onExit func(*Proc)) *Proc {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p, err := Start(cmd, onExit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(nil) })
	return p
}

// TestStopStepsThenKill checks that Stop goes through its steps and ends
// with SIGKILL for a server that ignores them all, and returns at once
// for one that obeys the first.
func TestStopStepsThenKill(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	stubborn := sh(t, `trap "" TERM INT; touch `+ready+`; while :; do sleep 0.05; done`, nil)
	if err := WaitReady(context.Background(), stubborn, 10*time.Second, func(context.Context) error {
		_, err := os.Stat(ready)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stubborn.Stop(nil, Step{syscall.SIGTERM, 200 * time.Millisecond}, Step{syscall.SIGINT, 200 * time.Millisecond})
	if stubborn.Running() || time.Since(start) < 400*time.Millisecond {
		t.Errorf("stubborn server: running %v after %v", stubborn.Running(), time.Since(start))
	}
	var exited atomic.Bool
	obedient := sh(t, `exec sleep 60`, func(*Proc) { exited.Store(true) })
	start = time.Now()
	obedient.Stop(nil, Step{syscall.SIGTERM, 10 * time.Second})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("SIGTERM took %v", d)
	}
	if ws, ok := obedient.Err().(*exec.ExitError); !ok || ws.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("obedient server exited with %v, want SIGTERM", obedient.Err())
	}
	if !exited.Load() {
		t.Error("onExit was not called before Done")
	}
}

// TestWaitReady checks its three ways to give up besides success.
func TestWaitReady(t *testing.T) {
	ok := func(context.Context) error { return nil }
	never := func(context.Context) error { return errors.New("not yet") }
	p := sh(t, `exec sleep 60`, nil)
	if err := WaitReady(context.Background(), p, time.Second, ok); err != nil {
		t.Errorf("ready: %v", err)
	}
	if err := WaitReady(context.Background(), p, 300*time.Millisecond, never); !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "not yet") {
		t.Errorf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitReady(ctx, p, time.Minute, never); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	dead := sh(t, `exit 3`, nil)
	if err := WaitReady(context.Background(), dead, time.Minute, never); !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("exited: %v", err)
	}
}

// TestLogTail checks that only this start's last lines are quoted, and
// that a link in the log's place is not followed.
func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.log")
	os.WriteFile(path, []byte("old start\n"), 0o600)
	f, offset, err := OpenLog(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		f.WriteString("line " + l + "\n")
	}
	f.Close()
	if got, want := LogTail(path, offset), "line 2; line 3; line 4; line 5; line 6; line 7"; got != want {
		t.Errorf("LogTail = %q, want %q", got, want)
	}
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("hunter2\n"), 0o600)
	link := filepath.Join(dir, "link.log")
	os.Symlink(secret, link)
	if got := LogTail(link, 0); strings.Contains(got, "hunter2") {
		t.Errorf("LogTail followed a link: %q", got)
	}
	if _, _, err := OpenLog(link, 0o600); err == nil {
		t.Error("OpenLog followed a link")
	}
}

// TestRestartsBackOff checks the policy: a failed restart is tried again
// after a longer delay, and a success ends the tries.
func TestRestartsBackOff(t *testing.T) {
	var r Restarts
	var calls []time.Time
	done := make(chan struct{})
	start := time.Now()
	r.Died(0, func() bool {
		calls = append(calls, time.Now())
		if len(calls) < 2 {
			return false
		}
		close(done)
		return true
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no second try")
	}
	if first, second := calls[0].Sub(start), calls[1].Sub(calls[0]); first < time.Second || second < 2*time.Second {
		t.Errorf("delays %v then %v, want 1s then 2s", first, second)
	}
	if r.Died(2*healthy, func() bool { return true }); r.delay != time.Second {
		t.Errorf("after a healthy run the delay is %v, want 1s", r.delay)
	}
}
