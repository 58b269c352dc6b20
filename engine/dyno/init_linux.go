package dyno

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"hako/engine/userfs"
)

// InitMain is the init of an isolated dyno: the server binary runs it, as
// PID 1 of the dyno's new namespaces, when started with "dyno-init" as its
// first argument (args are the arguments after it, unused). The server's
// main must call it before anything else and exit with its result. It is
// the init of each isolated build step too (see Supervisor.Command), which
// runs an argv rather than a dyno's script, in a root of its own kind.
//
// It waits for the supervisor to have put it in the dyno's cgroups, gives
// the dyno its own hostname ($DYNO) and private root (see buildRoot), runs
// the dyno's command as its only child, forwards SIGTERM, SIGINT and
// SIGHUP to every process of the dyno, and reaps orphans as an init must.
// When the command exits, whatever it left behind is killed and InitMain
// returns the command's status (128+signal when a signal killed it), so
// the supervisor sees the dyno end exactly when its command does.
//
// The init itself stays root: only the command runs as the dyno's user
// (through the credentials it is started with), so that the init can
// still signal and reap everything in the namespace, and no process of
// the dyno can tamper with the init. Isolation that cannot be set up is
// reported on stderr and to the supervisor, and the dyno runs without it.
func InitMain(args []string) int {
	if os.Getpid() != 1 {
		// kill(-1) outside a PID namespace would signal the whole host.
		fmt.Fprintln(os.Stderr, "dyno-init: refusing to run: not PID 1 of a new PID namespace")
		return 126
	}
	script, ok := os.LookupEnv(initEnvScript)
	argvJSON := os.Getenv(initEnvArgv)
	if !ok && argvJSON == "" {
		fmt.Fprintln(os.Stderr, "dyno-init: no command to run")
		return 126
	}
	readyFD, goFD, rootJSON := os.Getenv(initEnvReady), os.Getenv(initEnvGo), os.Getenv(initEnvRoot)
	tty := os.Getenv(initEnvTTY) != ""
	watchLifeline(os.Getenv(initEnvLifeline))
	for _, k := range []string{initEnvScript, initEnvArgv, initEnvReady, initEnvGo, initEnvRoot, initEnvTTY, initEnvLifeline} {
		os.Unsetenv(k)
	}
	path, argv := "/bin/sh", []string{"sh", "-c", script}
	if argvJSON != "" {
		if err := json.Unmarshal([]byte(argvJSON), &argv); err != nil || len(argv) == 0 {
			fmt.Fprintf(os.Stderr, "dyno-init: bad command: %q\n", argvJSON)
			return 126
		}
	}
	// no_new_privs is a property of the thread, inherited by the children
	// it forks: keep the command's fork on this very thread.
	runtime.LockOSThread()
	awaitGo(goFD)
	var cfg rootConfig
	if rootJSON != "" {
		if err := json.Unmarshal([]byte(rootJSON), &cfg); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: bad root configuration: %v\n", err)
		}
	}
	enterCgroups(cfg.Cgroups)
	report, cred := setupNamespace(cmp.Or(cfg.Hostname, os.Getenv("DYNO")), cfg)
	if cfg.Required && cred == nil {
		fmt.Fprintln(os.Stderr, "dyno-init: refusing to run the command without its private root")
		return 126
	}
	if cfg.Dir != "" {
		if err := unix.Chdir(cfg.Dir); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: enter %s: %v\n", cfg.Dir, err)
			return 126
		}
	}
	if argvJSON != "" {
		// Looked up in the private root, with the command's PATH.
		var err error
		if path, err = exec.LookPath(argv[0]); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: %v\n", err)
			return 127
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: set no_new_privs: %v\n", err)
	}

	// Subscribe before the child exists so that no SIGCHLD is missed; a
	// signal to forward that arrives before the fork waits in the channel
	// and reaches the child just after.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGCHLD)
	reportReady(readyFD, report)
	// On a terminal the command gets its own session with the terminal as
	// controlling one, so that ^C and job control reach it.
	child, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Credential: cred, Setsid: tty, Setctty: tty, Ctty: 0},
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

// awaitGo waits for the supervisor's go-ahead: one byte, or EOF should
// the supervisor have nothing to say.
func awaitGo(fd string) {
	n, err := strconv.Atoi(fd)
	if err != nil || n < 3 {
		return
	}
	f := os.NewFile(uintptr(n), "go")
	var b [1]byte
	_, _ = f.Read(b[:])
	f.Close()
}

// watchLifeline ends the init, and with it everything in its namespace,
// once the server is gone: the server holds the other end of the pipe on
// fd and never writes to it, so EOF means that it died (or is done with
// the command). A build's init has no Pdeathsig: that fires when the
// thread that started it exits, which the server does not control there.
func watchLifeline(fd string) {
	n, err := strconv.Atoi(fd)
	if err != nil || n < 3 {
		return
	}
	unix.CloseOnExec(n) // the command must not hold the server's end open
	f := os.NewFile(uintptr(n), "lifeline")
	go func() {
		var b [1]byte
		for {
			if _, err := f.Read(b[:]); err != nil {
				break
			}
		}
		// PID 1 exiting makes the kernel kill the whole namespace.
		os.Exit(128 + int(unix.SIGKILL))
	}()
}

// enterCgroups moves the init into the cgroups of its build step before it
// starts anything, so that every process of the step is held to their
// limits. "0" stands for the writing process: its pid in this namespace
// would mean another process to the host.
func enterCgroups(dirs []string) {
	for _, dir := range dirs {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte("0"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: no memory or process limits: %v\n", err)
			return
		}
	}
}

// reportReady tells the supervisor that signals are handled now, and what
// isolation could not be set up, then closes the descriptor so that the
// dyno's command does not inherit it.
func reportReady(fd, report string) {
	n, err := strconv.Atoi(fd)
	if err != nil || n < 3 {
		return
	}
	f := os.NewFile(uintptr(n), "ready")
	_, _ = f.Write(append([]byte{1}, report...))
	f.Close()
}

// setupNamespace makes the new mount namespace private, so that the
// mounts below never reach the host, sets the hostname, and builds the
// dyno's private root when it has one. It returns what could not be done,
// for the supervisor, and the credentials the command runs with: the
// dyno's user. Without a private root the dyno runs in the host's root
// with its own /proc, HOME and PATH pointing at the slug where it is, as
// the dyno's user when that user can reach the slug there, else as root
// (and says so): a dyno that cannot reach its own files would not run.
func setupNamespace(hostname string, cfg rootConfig) (report string, cred *syscall.Credential) {
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: set hostname: %v\n", err)
		}
	}
	if cfg.UID > 0 {
		cred = &syscall.Credential{Uid: uint32(cfg.UID), Gid: uint32(cfg.GID), Groups: []uint32{}}
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: make mounts private: %v\n", err)
		fallbackEnv(cfg.App)
		return "make mounts private: " + err.Error(), cred
	}
	if cfg.Root != "" {
		err := buildRoot(cfg)
		if err == nil {
			return "", cred
		}
		report = err.Error()
		// Still not root if avoidable: the release's files belong to the
		// dyno user (the supervisor's PrepareDir), so the app can run
		// where it is, if that user can reach it.
		if cred != nil && userfs.Searchable(cfg.App, cfg.UID, cfg.GID) != nil {
			cred = nil
			report += "; the app directory is out of the dyno user's reach, so dynos run as root"
		}
		who := "root"
		if cred != nil {
			who = fmt.Sprintf("uid %d", cfg.UID)
		}
		fmt.Fprintf(os.Stderr, "dyno-init: no private root, running in the host's root as %s: %v\n", who, err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: mount /proc: %v\n", err)
	}
	fallbackEnv(cfg.App)
	return report, cred
}

// fallbackEnv points HOME and PATH, which the supervisor set for /app,
// at the slug on the host when the dyno has no private root.
func fallbackEnv(app string) {
	if app == "" {
		return
	}
	if os.Getenv("HOME") == appDir {
		os.Setenv("HOME", app)
	}
	if rest, ok := strings.CutPrefix(os.Getenv("PATH"), appDir+"/bin"); ok {
		os.Setenv("PATH", app+"/bin"+rest)
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
