//go:build unix && !linux

package dyno

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
)

// probeNamespaces says why dynos cannot get namespaces: they need Linux.
func probeNamespaces(exe string) error {
	return errors.New("namespaces need Linux")
}

// sysProcAttr returns the attributes a dyno's first process starts with:
// its own process group, so that signals reach all of its processes.
// On a terminal it starts a session instead, with the terminal as its
// controlling one.
func sysProcAttr(isolated, tty bool) *syscall.SysProcAttr {
	if tty {
		return &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	return &syscall.SysProcAttr{Setpgid: true}
}

// startProcess starts a dyno as a plain process group. Without Linux's
// waitid(WNOWAIT) the group's leftovers are killed just after the leader
// is reaped, which leaves a tiny window for pid reuse.
func startProcess(cfg procConfig) (*process, error) {
	if cfg.isolated {
		return nil, fmt.Errorf("%w: namespaces need Linux", errNamespaces)
	}
	cmd := exec.Command("/bin/sh", "-c", cfg.script)
	cmd.Env = cfg.env
	cmd.Dir = cfg.dir
	cmd.Stdout, cmd.Stderr = cfg.out, cfg.out
	if cfg.stdin != nil {
		cmd.Stdin = cfg.stdin
	}
	cmd.SysProcAttr = sysProcAttr(false, cfg.tty)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start process: %w", err)
	}
	p := &process{pid: cmd.Process.Pid, exited: make(chan struct{}), known: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		p.mu.Lock()
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		p.ended = true
		p.mu.Unlock()
		waitGroupGone(p.pid, groupGoneTimeout)
		p.status = exitStatus(cmd.ProcessState)
		p.setKnown(p.status)
		close(p.exited)
	}()
	return p, nil
}

// groupAlive reports whether any process of group pgid exists, zombies
// included: without /proc they cannot be told apart.
func groupAlive(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}
