package dyno

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"hako/engine/userfs"
)

// InitMain is the init of an isolated dyno: the server binary runs it, as
// PID 1 of the dyno's new namespaces, when started with "dyno-init" as its
// first argument (args are the arguments after it: "probe" only checks
// that the namespaces could be made). The server's main must call it
// before anything else and exit with its result. It is the init of each
// isolated build step too (see Supervisor.Command), which runs an argv
// rather than a dyno's script, in a root of its own kind.
//
// It reads what to do from descriptor initConfigFD (see initConfig),
// gives the dyno its own hostname ($DYNO) and private root (see
// buildRoot), waits for the supervisor to have put it in the dyno's
// cgroups meanwhile, runs the dyno's command as its only child, forwards
// SIGTERM, SIGINT and SIGHUP to every process of the dyno, and reaps
// orphans as an init must.
// When the command exits, whatever it left behind is killed and InitMain
// returns the command's status (128+signal when a signal killed it), so
// the supervisor sees the dyno end exactly when its command does.
//
// The init itself stays root: only the command runs as the dyno's user
// (through the credentials it is started with), so that the init can
// still signal and reap everything in the namespace, and no process of
// the dyno can tamper with the init. The command never runs as root: the
// init refuses instead. It runs under the syscall filter (see
// seccomp_linux.go), which the init installs last, on the thread that
// forks the command, so that the init itself could still mount. The app's environment is the command's alone,
// given to its exec; the init's own is empty. Isolation that cannot be
// set up is reported on stderr and to the supervisor; a dyno then runs
// as its user in the host's root unless its root was required.
func InitMain(args []string) int {
	// The supervisor starts the init with an empty environment; should
	// anything else have put variables there, none of them reaches the
	// command or a child of the init.
	os.Clearenv()
	if os.Getpid() != 1 {
		// kill(-1) outside a PID namespace would signal the whole host.
		fmt.Fprintln(os.Stderr, "dyno-init: refusing to run: not PID 1 of a new PID namespace")
		return 126
	}
	if len(args) > 0 && args[0] == "probe" {
		return 0
	}
	cfg, err := readInitConfig(initConfigFD)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: %v\n", err)
		return 126
	}
	watchLifeline(cfg.LifelineFD)
	if cfg.ExitFD >= 3 {
		unix.CloseOnExec(cfg.ExitFD) // the command must not report for the init
	}
	path, argv := "/bin/sh", []string{"sh", "-c", cfg.Script}
	if len(cfg.Argv) > 0 {
		argv = cfg.Argv
	}
	// no_new_privs is a property of the thread, inherited by the children
	// it forks: keep the command's fork on this very thread.
	runtime.LockOSThread()
	rc, env := cfg.Root, slices.Clone(cfg.Env)
	enterCgroups(rc.Cgroups)
	if cfg.Net != nil {
		// Before the mounts: the host's /proc is needed to reach the
		// host's network namespace. A dyno whose network the supervisor
		// meant to give it never runs without.
		if err := setupNetwork(cfg.Net); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: refusing to run the command without its network: %v\n", err)
			return 126
		}
	}
	report, private := setupNamespace(cmp.Or(rc.Hostname, envValue(env, "DYNO")), rc)
	if !private {
		if rc.Required {
			fmt.Fprintf(os.Stderr, "dyno-init: refusing to run the command without its private root: %s\n", cmp.Or(report, "none was configured"))
			return 126
		}
		env = fallbackEnv(rc.App, env)
	}
	cred, err := dropTo(rc, private)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: refusing to run the command: %v\n", err)
		return 126
	}
	if rc.Dir != "" {
		if err := unix.Chdir(rc.Dir); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: enter %s: %v\n", rc.Dir, err)
			return 126
		}
	}
	if len(cfg.Argv) > 0 {
		// Looked up in the private root, with the command's PATH.
		if path, err = lookPath(argv[0], envValue(env, "PATH")); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: %v\n", err)
			return 127
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: set no_new_privs: %v\n", err)
	}
	if rc.FileLimit > 0 {
		// Inherited by the command; the init itself writes no file.
		lim := unix.Rlimit{Cur: uint64(rc.FileLimit), Max: uint64(rc.FileLimit)}
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lim); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: limit file sizes: %v\n", err)
		}
	}
	// The supervisor puts the init in the dyno's cgroups while it sets
	// the namespaces up (a move between cgroups waits out an RCU grace
	// period, several milliseconds a cgroup); the command is forked only
	// once it is done, so that every process of the dyno is held to its
	// limits.
	awaitGo(cfg.GoFD)
	// Last, once the init is done mounting: the filter holds on this
	// thread, which forks the command, and so on the whole dyno.
	if err := installSeccomp(); err != nil {
		if rc.Required && !errors.Is(err, errNoSeccomp) {
			fmt.Fprintf(os.Stderr, "dyno-init: refusing to run the command: %v\n", err)
			return 126
		}
		fmt.Fprintf(os.Stderr, "dyno-init: %v\n", err)
	}

	// Subscribe before the child exists so that no SIGCHLD is missed; a
	// signal to forward that arrives before the fork waits in the channel
	// and reaches the child just after.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGCHLD)
	reportReady(cfg.ReadyFD, report)
	// On a terminal the command gets its own session with the terminal as
	// controlling one, so that ^C and job control reach it.
	child, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Credential: cred, Setsid: cfg.TTY, Setctty: cfg.TTY, Ctty: 0},
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
			reportExit(cfg.ExitFD, status)
			return status
		}
	}
	return 0 // not reached: sigs is never closed
}

// dropTo returns the credentials the command runs with: the dyno's user,
// never root. Without a private root the dyno runs where its slug is on
// the host, which its user must then be able to reach.
func dropTo(rc rootConfig, private bool) (*syscall.Credential, error) {
	if rc.UID <= 0 || rc.GID <= 0 {
		return nil, fmt.Errorf("it would run as root (uid %d, gid %d)", rc.UID, rc.GID)
	}
	if !private && rc.App != "" {
		if err := userfs.Searchable(rc.App, rc.UID, rc.GID); err != nil {
			return nil, fmt.Errorf("no private root, and the app directory is out of uid %d's reach: %w", rc.UID, err)
		}
	}
	return &syscall.Credential{Uid: uint32(rc.UID), Gid: uint32(rc.GID), Groups: []uint32{}}, nil
}

// lookPath finds a program the way exec.LookPath does, but in the given
// PATH (the command's, not the init's), from absolute directories only.
func lookPath(file, pathList string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", &exec.Error{Name: file, Err: err}
		}
		return file, nil
	}
	for _, dir := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(dir) {
			continue
		}
		if p := filepath.Join(dir, file); executable(p) == nil {
			return p, nil
		}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// executable reports why path is not a file anyone may execute, if so.
func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fs.ErrPermission
	}
	return nil
}

// envValue returns the value of key in env, the last one if it is there
// more than once, as the command itself would see it.
func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// awaitGo waits for the supervisor's go-ahead: one byte, or EOF should
// the supervisor have nothing to say.
func awaitGo(fd int) {
	if fd < 3 {
		return
	}
	f := os.NewFile(uintptr(fd), "go")
	var b [1]byte
	_, _ = f.Read(b[:])
	f.Close()
}

// watchLifeline ends the init, and with it everything in its namespace,
// once the server is gone: the server holds the other end of the pipe on
// fd and never writes to it, so EOF means that it died (or is done with
// the command). A build's init has no Pdeathsig: that fires when the
// thread that started it exits, which the server does not control there.
func watchLifeline(fd int) {
	if fd < 3 {
		return
	}
	unix.CloseOnExec(fd) // the command must not hold the server's end open
	f := os.NewFile(uintptr(fd), "lifeline")
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
func reportReady(fd int, report string) {
	if fd < 3 {
		return
	}
	f := os.NewFile(uintptr(fd), "ready")
	_, _ = f.Write(append([]byte{1}, report...))
	f.Close()
}

// reportExit tells the supervisor the command's exit status once no
// process of the dyno is left, ahead of the init's own exit, whose
// teardown of the namespaces (the disk's unmount, the network's removal)
// the command's caller need not wait for. The init first lets go of the
// dyno's output and input, so that the supervisor has read all of it
// when the status comes.
func reportExit(fd, status int) {
	if fd < 3 {
		return
	}
	if null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
		for _, std := range []int{0, 1, 2} {
			_ = unix.Dup3(null, std, 0)
		}
		unix.Close(null)
	} else {
		for _, std := range []int{0, 1, 2} {
			unix.Close(std)
		}
	}
	_, _ = unix.Write(fd, []byte{byte(status)})
	unix.Close(fd)
}

// setupNamespace makes the new mount namespace private, so that the
// mounts below never reach the host, sets the hostname, and builds the
// dyno's private root when it has one. It returns what could not be done,
// for the supervisor, and whether the command gets its private root.
// Without one the dyno runs in the host's root with its own /proc (see
// fallbackEnv for HOME and PATH).
func setupNamespace(hostname string, cfg rootConfig) (report string, private bool) {
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			fmt.Fprintf(os.Stderr, "dyno-init: set hostname: %v\n", err)
		}
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: make mounts private: %v\n", err)
		return "make mounts private: " + err.Error(), false
	}
	if cfg.Root != "" {
		err := buildRoot(cfg)
		if err == nil {
			return "", true
		}
		report = err.Error()
		if !cfg.Required {
			fmt.Fprintf(os.Stderr, "dyno-init: no private root, running in the host's root as uid %d: %v\n", cfg.UID, err)
		}
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: mount /proc: %v\n", err)
	}
	return report, false
}

// fallbackEnv points HOME and PATH of the command's environment, which
// the supervisor set for /app, at the slug on the host when the dyno has
// no private root.
func fallbackEnv(app string, env []string) []string {
	if app == "" {
		return env
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HOME="); ok && v == appDir {
			kv = "HOME=" + app
		} else if rest, ok := strings.CutPrefix(kv, "PATH="+appDir+"/bin"); ok {
			kv = "PATH=" + app + "/bin" + rest
		}
		out = append(out, kv)
	}
	return out
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
