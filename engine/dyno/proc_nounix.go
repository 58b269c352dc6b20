//go:build !unix

package dyno

import (
	"errors"
	"os"
	"syscall"
)

var errUnsupported = errors.New("dynos need a Unix system")

func probeNamespaces(exe string) error { return errUnsupported }

func startProcess(cfg procConfig) (*process, error) { return nil, errUnsupported }

func (p *process) signal(sig syscall.Signal) {}

func exitStatus(ps *os.ProcessState) int { return ps.ExitCode() }

func processAlive(pid int) bool { return true }
