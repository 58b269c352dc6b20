package dyno

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hako/engine/tether"
)

// namespaceFlags are the namespaces each isolated dyno gets: its own
// process tree, mounts (for its own /proc), hostname and IPC objects.
const namespaceFlags = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC

// readyTimeout bounds the wait for a new init to be ready for signals.
const readyTimeout = 10 * time.Second

// probeNamespaces starts the init in the namespaces a dyno gets and
// reports why that failed, if it did: a host may refuse them even to root
// (an unprivileged container), and the supervisor must know before the
// first dyno, as it then runs none.
func probeNamespaces(exe string) error {
	return probe(exe, namespaceFlags)
}

// probeNetworkNamespace reports why the init cannot start in a network
// namespace of its own as well, if it cannot.
func probeNetworkNamespace(exe string) error {
	return probe(exe, namespaceFlags|syscall.CLONE_NEWNET)
}

// probe starts the init in new namespaces of flags and reports why that
// failed, if it did.
func probe(exe string, flags uintptr) error {
	if exe == "" {
		return errors.New("the hako binary, the dynos' init, was not found")
	}
	cmd := exec.Command(exe, "dyno-init", "probe")
	cmd.Env = initEnviron()
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}

// sysProcAttr returns the attributes a dyno's first process starts with.
// Every dyno leads its own process group, so that signals reach all of
// its processes, and dies with the server (Pdeathsig) rather than outlive
// it unsupervised.
//
// A plain dyno on a terminal starts a session instead (which also makes
// it a group leader) with the terminal as its controlling one, so that
// job control and ^C work; an isolated dyno's init does that for its
// command instead.
func sysProcAttr(isolated, tty bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if isolated {
		a.Cloneflags = namespaceFlags
	} else if tty {
		a.Setpgid = false
		a.Setsid, a.Setctty, a.Ctty = true, true, 0
	}
	return a
}

// startProcess starts a dyno process and returns once it runs. It is
// tethered (package tether): its Pdeathsig ends it with the server only.
func startProcess(cfg procConfig) (*process, error) {
	var cmd *exec.Cmd
	var ready, goW, exitR *os.File
	if cfg.isolated {
		rc := cfg.box.rootConfig()
		if cfg.tty && cfg.stdin != nil {
			rc.TTY = cfg.stdin.Name()
		}
		ic := initConfig{Script: cfg.script, Env: cfg.env, Root: rc, TTY: cfg.tty, ReadyFD: 4, GoFD: 5, ExitFD: 6}
		if l := cfg.box.netOf(); l != nil {
			ic.Net = l.config(7)
		}
		conf, err := initConfigFile(ic)
		if err != nil {
			return nil, err
		}
		defer conf.Close()
		readyR, readyW, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("create readiness pipe: %w", err)
		}
		defer readyR.Close()
		defer readyW.Close()
		goR, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("create readiness pipe: %w", err)
		}
		defer goR.Close()
		defer w.Close()
		r, exitW, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("create exit pipe: %w", err)
		}
		defer exitW.Close()
		ready, goW, exitR = readyR, w, r
		cmd = exec.Command(cfg.exe, "dyno-init")
		cmd.ExtraFiles = []*os.File{conf, readyW, goR, exitW} // fds 3, 4, 5 and 6
		if l := cfg.box.netOf(); l != nil {
			cmd.ExtraFiles = append(cmd.ExtraFiles, l.net.hostNS) // fd 7
		}
		// The init is root: the app's environment reaches it only through
		// conf, for its command.
		cmd.Env = initEnviron()
	} else {
		cmd = exec.Command("/bin/sh", "-c", cfg.script)
		cmd.Env = cfg.env
	}
	cmd.Dir = cfg.dir
	cmd.Stdout, cmd.Stderr = cfg.out, cfg.out
	if cfg.stdin != nil {
		cmd.Stdin = cfg.stdin
	}
	cmd.SysProcAttr = sysProcAttr(cfg.isolated, cfg.tty)
	host := "127.0.0.1"
	if l := cfg.box.netOf(); l != nil {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET
		host = l.addr.String()
	}

	p := &process{isolated: cfg.isolated, box: cfg.box, host: host, exited: make(chan struct{}), known: make(chan struct{})}
	err := tether.Start(cmd, func(pid int) { p.pid = pid }, func() {
		// Learn of the exit without reaping, so that the pid (and the
		// group named after it) cannot be reused while the leftovers of a
		// plain dyno are killed.
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		p.mu.Lock()
		if !p.isolated {
			_ = unix.Kill(-p.pid, unix.SIGKILL)
		}
		p.ended = true
		p.mu.Unlock()
		_ = cmd.Wait()
		if !p.isolated {
			waitGroupGone(p.pid, groupGoneTimeout)
		}
		p.status = exitStatus(cmd.ProcessState)
		p.setKnown(p.status)
		// The init's death took every process of its namespace with it:
		// the sandbox can go.
		p.oomKilled = p.box.finish()
		close(p.exited)
	})
	if exitR != nil {
		if err != nil {
			exitR.Close()
		} else {
			go readExit(exitR, p)
		}
	}
	if err != nil {
		if cfg.isolated && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) ||
			errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EUSERS)) {
			return nil, fmt.Errorf("%w: %w", errNamespaces, err)
		}
		return nil, fmt.Errorf("start process: %w", err)
	}
	if ready != nil {
		// Into the cgroups before the init may fork, so that every
		// process of the dyno is held to its limits; the init sets the
		// namespaces up meanwhile, and may have refused to run (and said
		// why) before the move.
		if cg := cfg.box.cgroupOf(); cg != nil {
			if err := cg.enter(p.pid); err != nil && !errors.Is(err, unix.ESRCH) {
				fmt.Fprintf(cfg.out, "dyno-init: no memory or process limits: %v\n", err)
			}
		}
		_, _ = goW.Write([]byte{1})
		goW.Close()
		cmd.ExtraFiles[2].Close()
		p.report = waitReady(ready, cmd.ExtraFiles[1])
	}
	return p, nil
}

// readExit reads the exit status an isolated dyno's init reports once
// every process of the dyno is gone (see reportExit), and closes r. EOF
// without it means the init died otherwise; the status then comes from
// its reaping.
func readExit(r *os.File, p *process) {
	defer r.Close()
	var b [1]byte
	if n, _ := r.Read(b[:]); n == 1 {
		p.setKnown(int(b[0]))
	}
}

// waitReady waits for an isolated dyno's init to be ready for signals and
// returns what it reported it could not set up. Until it has installed
// its handlers, the kernel drops any SIGTERM sent to the PID 1 of a
// namespace, and a Stop right after Start would wait out the whole grace
// period. The init writes a byte, then its report, when ready, and closes
// the pipe; EOF without the byte means it died, which the supervisor
// learns the usual way.
func waitReady(r, w *os.File) string {
	w.Close() // keep only the child's copy, so that its death means EOF
	_ = r.SetReadDeadline(time.Now().Add(readyTimeout))
	b, _ := io.ReadAll(io.LimitReader(r, 4096))
	if len(b) == 0 {
		return ""
	}
	return string(b[1:])
}
