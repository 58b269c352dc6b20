//go:build linux

package localproc

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// openNoFollow keeps hako, as root, from opening a file through a link
// the servers' user planted in the data directory.
const openNoFollow = unix.O_NOFOLLOW

// signal sends sig to pid, or to the process group -pid.
func signal(pid int, sig syscall.Signal) error { return unix.Kill(pid, sig) }

// waitExited waits for the process to end without reaping it, and
// reports whether it could.
func waitExited(pid int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err == nil
		}
	}
}
