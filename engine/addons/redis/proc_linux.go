//go:build linux

package redis

import (
	"os"
	"os/exec"
	"syscall"
)

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
