//go:build linux

package redis

import (
	"errors"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// openNoFollow keeps hako, as root, from opening a file through a link
// the servers' user planted in the data directory.
const openNoFollow = unix.O_NOFOLLOW

// serverCredential returns the user the servers run as: the one given
// when hako is root, none (hako's own) otherwise.
func serverCredential(uid, gid int) *credential {
	if os.Geteuid() != 0 {
		return nil
	}
	return &credential{uid: uid, gid: gid}
}

// setProcAttr makes the server lead its own process group, so that it
// and its background saves are signalled together and a ^C at hako's
// terminal does not reach them; die with hako (SIGTERM, so that it still
// writes its data); and run as c without root's supplementary groups.
func setProcAttr(cmd *exec.Cmd, c *credential) {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if c != nil {
		a.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid), Groups: []uint32{}}
	}
	cmd.SysProcAttr = a
}

// signalGroup signals the process group led by pid.
func signalGroup(pid int, kill bool) error {
	sig := unix.SIGTERM
	if kill {
		sig = unix.SIGKILL
	}
	return unix.Kill(-pid, sig)
}

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
