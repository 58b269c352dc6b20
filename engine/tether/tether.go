// Package tether starts processes that must not outlive the server: dynos
// and add-on servers, whose parent-death signal (Pdeathsig) ends them
// when the server dies, even by SIGKILL.
//
// Pdeathsig fires when the thread that forked the child exits, not when
// the parent process does, and Go retires threads freely: a child started
// from an ordinary goroutine can be killed at random while the server
// runs. Start therefore forks from a goroutine locked to its OS thread,
// and keeps it there, never unlocked, while the child is supervised.
package tether

import (
	"os/exec"
	"runtime"
)

// Start starts cmd (whose SysProcAttr carries the Pdeathsig) from a
// goroutine locked to its OS thread. On that goroutine, started gets the
// child's pid before Start returns, then supervise runs: it must wait for
// the child, since the thread goes when supervise returns. Start returns
// cmd.Start's error, in which case neither function runs.
func Start(cmd *exec.Cmd, started func(pid int), supervise func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread must outlive the child
		if err := cmd.Start(); err != nil {
			errc <- err
			return
		}
		if started != nil {
			started(cmd.Process.Pid)
		}
		errc <- nil
		supervise()
	}()
	return <-errc
}
