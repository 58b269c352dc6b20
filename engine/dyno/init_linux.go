package dyno

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// InitMain is the init of an isolated dyno: the server binary runs it, as
// PID 1 of the dyno's new namespaces, when started with "dyno-init" as its
// first argument (args are the arguments after it, unused). The server's
// main must call it before anything else and exit with its result.
//
// It gives the dyno its own /proc and hostname ($DYNO), runs the dyno's
// command as its only child, forwards SIGTERM, SIGINT and SIGHUP to every
// process of the dyno, and reaps orphans as an init must. When the command
// exits, whatever it left behind is killed and InitMain returns the
// command's status (128+signal when a signal killed it), so the
// supervisor sees the dyno end exactly when its command does.
func InitMain(args []string) int {
	if os.Getpid() != 1 {
		// kill(-1) outside a PID namespace would signal the whole host.
		fmt.Fprintln(os.Stderr, "dyno-init: refusing to run: not PID 1 of a new PID namespace")
		return 126
	}
	script, ok := os.LookupEnv(initEnvScript)
	if !ok {
		fmt.Fprintln(os.Stderr, "dyno-init: no command to run")
		return 126
	}
	readyFD := os.Getenv(initEnvReady)
	os.Unsetenv(initEnvScript)
	os.Unsetenv(initEnvReady)
	setupNamespace(os.Getenv("DYNO"))

	// Subscribe before the child exists so that no SIGCHLD is missed; a
	// signal to forward that arrives before the fork waits in the channel
	// and reaches the child just after.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGCHLD)
	reportReady(readyFD)
	child, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", script}, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: start the command: %v\n", err)
		return 127
	}
	for sig := range sigs {
		if sig != unix.SIGCHLD {
			_ = unix.Kill(-1, sig.(syscall.Signal)) // spares PID 1 itself
			continue
		}
		if status, done := reap(child); done {
			_ = unix.Kill(-1, unix.SIGKILL)
			reapAll()
			return status
		}
	}
	return 0 // not reached: sigs is never closed
}

// reportReady tells the supervisor that signals are handled now, and
// closes the descriptor so that the dyno's command does not inherit it.
func reportReady(fd string) {
	n, err := strconv.Atoi(fd)
	if err != nil || n < 3 {
		return
	}
	f := os.NewFile(uintptr(n), "ready")
	_, _ = f.Write([]byte{1})
	f.Close()
}

// setupNamespace makes the new mount namespace private, so the mounts
// below never reach the host, mounts a /proc that shows only the dyno's
// processes and sets the hostname. A dyno still runs without them.
func setupNamespace(hostname string) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: make mounts private: %v\n", err)
	} else if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: mount /proc: %v\n", err)
	}
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: set hostname: %v\n", err)
		}
	}
}

// reap collects every exited process without blocking and reports the
// status of child once it is among them.
func reap(child int) (status int, done bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return status, done
		}
		if pid == child {
			done = true
			status = ws.ExitStatus()
			if ws.Signaled() {
				status = 128 + int(ws.Signal())
			}
		}
	}
}

// reapAll waits until no process is left in the namespace.
func reapAll() {
	for {
		_, err := unix.Wait4(-1, nil, 0, nil)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
