//go:build !linux

package localproc

import (
	"os"
	"syscall"
)

// openNoFollow is not needed where the servers run as hako's own user.
const openNoFollow = 0

// signal sends sig to the server alone: process groups are a Linux
// matter here.
func signal(pid int, sig syscall.Signal) error {
	if pid < 0 {
		pid = -pid
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(sig)
}

// waitExited cannot wait without reaping here.
func waitExited(pid int) bool { return false }
