package sshgit

import (
	"os/exec"
	"syscall"
)

// dieWithServer makes cmd get SIGKILL when the server dies, even by
// SIGKILL (start it with tether.Start).
func dieWithServer(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
