//go:build !linux

package redis

import (
	"os"
	"os/exec"
	"syscall"
)

// openNoFollow is not needed where the servers run as hako's own user.
const openNoFollow = 0

// serverCredential returns nil: elsewhere than on Linux the servers run
// as hako's own user, which is a developer's.
func serverCredential(uid, gid int) *credential { return nil }

// setProcAttr leaves the process as it is: process groups and Pdeathsig
// are Linux matters here.
func setProcAttr(cmd *exec.Cmd, c *credential) {}

// signalGroup signals the server alone.
func signalGroup(pid int, kill bool) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if kill {
		return p.Kill()
	}
	return p.Signal(syscall.SIGTERM)
}

// waitExited cannot wait without reaping here.
func waitExited(pid int) bool { return false }
