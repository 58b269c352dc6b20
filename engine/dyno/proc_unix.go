//go:build unix

package dyno

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// groupGoneTimeout bounds the wait for a plain dyno's killed leftovers to
// die.
const groupGoneTimeout = 2 * time.Second

// signal sends sig to the dyno: to its init when isolated (plus the whole
// group for SIGKILL), to its whole process group otherwise. It never
// signals a pid that may have been reused.
func (p *process) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	if !p.isolated || sig == syscall.SIGKILL {
		_ = syscall.Kill(-p.pid, sig)
	}
	if p.isolated {
		_ = syscall.Kill(p.pid, sig)
	}
}

// exitStatus is the status a shell would report: the exit code, or
// 128+signal for a process killed by a signal.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// waitGroupGone waits until no process of group pgid is alive any more,
// or the timeout passes, so that a plain dyno is only reported gone once
// its leftovers have died (and let go of its port, for one).
func waitGroupGone(pgid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
