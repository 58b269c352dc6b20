//go:build linux

package tether

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestSurvivesThreadChurn checks that a tethered child with a
// parent-death signal keeps running while the server's goroutines come
// and go (threads retired by Go must not take it down), and that Start
// reports a failed start without running the callbacks.
func TestSurvivesThreadChurn(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pid := 0
	done := make(chan error, 1)
	if err := Start(cmd, func(p int) { pid = p }, func() { done <- cmd.Wait() }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	if pid != cmd.Process.Pid {
		t.Fatalf("started got pid %d, want %d", pid, cmd.Process.Pid)
	}
	// Churn: goroutines that lock and exit make Go retire their threads.
	for i := 0; i < 50; i++ {
		ch := make(chan struct{})
		go func() {
			defer close(ch)
			runtimeLockAndExit()
		}()
		<-ch
	}
	select {
	case err := <-done:
		t.Fatalf("the tethered child died while the server ran: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("child not running: %v", err)
	}

	bad := exec.Command("/nonexistent/program")
	called := false
	if err := Start(bad, func(int) { called = true }, func() { called = true }); err == nil || called {
		t.Errorf("Start of a missing program = %v, callbacks run: %v", err, called)
	}
}
