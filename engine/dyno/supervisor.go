// Package dyno runs dynos: the processes of an app, each started from a
// Procfile command in its unpacked slug, watched, restarted when it
// crashes and stopped the way Heroku stops them (SIGTERM, a grace period,
// then SIGKILL).
//
// When the server runs as root on Linux, each dyno runs in its own PID,
// mount, UTS and IPC namespaces under a tiny init (the server binary
// itself, started as "dyno-init", see InitMain), so that a dyno sees only
// its own processes, has its own hostname, and every process it leaves
// behind dies with it. There it also gets a private root (read-only system
// directories, its slug as a writable overlay on /app whose writes are
// discarded when the process ends, its own /tmp, /proc and /dev), runs as
// an unprivileged user, and is held to a memory quota and a process limit
// through cgroups, as a Heroku dyno is. A server that is not root runs
// dynos as plain process groups of its own user, or none at all, as its
// Mode says; a root server that cannot create namespaces runs none. The
// supervisor runs the steps of builds the same way (see Command), as
// the builder's Sandbox (package buildpacks).
package dyno

import (
	"fmt"
	"log"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"hako/engine"
)

// Mode says how dynos and builds are isolated from the host and from each
// other: the server's --isolation flag. App code never runs as root in any
// mode: a server that is root but cannot create namespaces (an
// unprivileged container) refuses to run dynos and builds at all.
type Mode int

const (
	// ModeAuto ("auto") isolates where it can: fully when the server is
	// root, else as plain process groups of the server's own user, which
	// Isolation says loudly (fine for a single-user laptop).
	ModeAuto Mode = iota
	// ModeNamespaces ("required") isolates fully, each dyno and build
	// step in its own namespaces and private root, or refuses to run
	// them: what a shared server or a CI runner sets.
	ModeNamespaces
	// ModeProcessGroup ("none") runs dynos and builds as plain process
	// groups of the server's user; refused when the server is root.
	ModeProcessGroup
)

// modeNames are the modes as the --isolation flag spells them.
var modeNames = map[Mode]string{ModeAuto: "auto", ModeNamespaces: "required", ModeProcessGroup: "none"}

// String returns the mode as the --isolation flag spells it.
func (m Mode) String() string {
	if n, ok := modeNames[m]; ok {
		return n
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads an --isolation value: auto, required or none.
func ParseMode(s string) (Mode, error) {
	for m, n := range modeNames {
		if s == n {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown isolation mode %q: use auto, required or none", s)
}

// Defaults, as Heroku's.
const (
	DefaultStopGrace      = 30 * time.Second
	DefaultBootTimeout    = 60 * time.Second
	DefaultRestartBackoff = time.Second
	DefaultMaxBackoff     = 20 * time.Minute
	// DefaultMemoryLimit is the memory quota of a standard-1X dyno.
	DefaultMemoryLimit = 512 << 20
	// DefaultPidsLimit is the process (and thread) limit of a standard-1X
	// dyno.
	DefaultPidsLimit = 256
	// DefaultBuildMemoryLimit is the memory a build step may use before the
	// kernel kills it: compilers need more than a running dyno.
	DefaultBuildMemoryLimit = 2 << 30
	// DefaultBuildPidsLimit caps the processes and threads of a build
	// step: parallel compilers run many threads each.
	DefaultBuildPidsLimit = 2048
	// DefaultCycleAfter and DefaultCycleJitter: Heroku restarts every dyno
	// once a day, plus up to 216 minutes so that the dynos of an app do
	// not all cycle at once.
	DefaultCycleAfter  = 24 * time.Hour
	DefaultCycleJitter = 216 * time.Minute
	// DefaultUser and DefaultGroup are the uid and gid isolated dynos run
	// as: nobody and nogroup.
	DefaultUser  = 65534
	DefaultGroup = 65534
)

// stableAfter is how long a process must have run for its exit to count
// as a fresh crash rather than one more in a crash loop: it resets the
// restart back-off so a dyno that crashes once a day restarts at once.
const stableAfter = 10 * time.Minute

// Options configures a Supervisor. The zero value is usable.
type Options struct {
	// Exe is the binary started as "Exe dyno-init" to be each isolated
	// dyno's init; it must call InitMain for that argument. It defaults to
	// the running executable, since the server binary is its own init.
	Exe string
	// Logs receives dyno output and platform events; nil drops them.
	Logs engine.LogSink
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL
	// (Heroku's R12 exit timeout). Zero means DefaultStopGrace.
	StopGrace time.Duration
	// BootTimeout is how long a web dyno has to bind its PORT before it is
	// killed with an R10 error. Zero means DefaultBootTimeout.
	BootTimeout time.Duration
	// RestartBackoff is the delay before the second consecutive restart of
	// a crashing dyno; it doubles for each further crash. The first
	// restart is always immediate. Zero means DefaultRestartBackoff.
	RestartBackoff time.Duration
	// MaxBackoff caps the restart delay. Zero means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Isolate picks how dynos are isolated; ModeAuto by default.
	Isolate Mode
	// plainAsRoot lets this package's tests run plain process groups as
	// root, to test them on a root host; nothing else can set it.
	plainAsRoot bool

	// User and Group are the uid and gid the command of an isolated dyno
	// runs as. Zero means DefaultUser and DefaultGroup: a dyno never runs
	// as root. Plain process groups run as the server does.
	User, Group int
	// ScratchDir holds, for each process of an isolated dyno, a directory
	// of its own: the upper and work directories of the overlay that makes
	// its /app writable, and the mount point of its root. It is removed
	// when the process is gone, which discards what the dyno wrote. Build
	// steps keep the mount points of their roots there too. The server
	// passes its layout's (engine.Layout.Scratch); empty means a directory
	// in the system's temporary directory.
	ScratchDir string
	// MemoryLimit is an isolated dyno's memory quota in bytes. Above it,
	// Heroku's R14 is logged (at most once a minute) and the dyno keeps
	// running; at twice the quota, the kernel's hard limit, R15 is logged
	// and the dyno is killed and restarted as after a crash. Zero means
	// DefaultMemoryLimit; negative turns memory limits off.
	MemoryLimit int64
	// PidsLimit caps the processes and threads of an isolated dyno. Zero
	// means DefaultPidsLimit; negative turns the limit off.
	PidsLimit int
	// DiskLimit is the size, in bytes, of the disk that holds an isolated
	// dyno's writable layer of /app and its /tmp (see disk.go): past it
	// the dyno gets ENOSPC. Zero means DefaultDiskLimit; negative turns
	// the quota off (/tmp is a tmpfs then).
	DiskLimit int64
	// BuildMemoryLimit is the hard memory limit, in bytes, of an isolated
	// build step (see Command): above it the kernel kills the step. There
	// is no quota below it to warn about, as a build is not a dyno. Zero
	// means DefaultBuildMemoryLimit; negative turns it off.
	BuildMemoryLimit int64
	// BuildPidsLimit caps the processes and threads of an isolated build
	// step. Zero means DefaultBuildPidsLimit; negative turns it off.
	BuildPidsLimit int
	// BuildFileLimit caps, in bytes, each file an isolated build step
	// writes (RLIMIT_FSIZE: past it the writer gets SIGXFSZ, or EFBIG),
	// so that one step cannot fill the host's disk with one file before
	// the build's size is checked. Zero or negative: no cap.
	BuildFileLimit int64
	// CycleAfter is how long a dyno process runs before it is restarted
	// (SIGTERM, grace, SIGKILL, then a new process without back-off), as
	// Heroku cycles dynos daily. Every process start resets the clock.
	// Zero means DefaultCycleAfter; negative turns cycling off.
	CycleAfter time.Duration
	// Network says whether isolated dynos and build steps get network
	// namespaces of their own (NetworkIsolated, the default) or share the
	// host's (NetworkHost).
	Network NetworkMode
	// UntrackedPorts are TCP ports whose loopback connections the dynos'
	// firewall leaves out of connection tracking, which its NAT turns on
	// for the whole host: the router's, whose every request would
	// otherwise pay for it.
	UntrackedPorts []int
	// Subnet is where dynos' addresses come from, the first one being the
	// host's on the bridge; zero means DefaultSubnet. Two servers on one
	// host need two subnets.
	Subnet netip.Prefix
	// ResolvConf is the host's resolver configuration, whose loopback
	// nameservers dynos reach through the server's relays (see
	// dnsRelay); "" means DefaultResolvConf.
	ResolvConf string
	// CycleJitter is the most that is added, at random, to CycleAfter for
	// each process. Zero means DefaultCycleJitter when CycleAfter is left
	// at its default and no jitter otherwise; negative means none.
	CycleJitter time.Duration
}

// Supervisor starts dynos and keeps them running until they are stopped.
// It implements engine.Supervisor.
type Supervisor struct {
	opts     Options
	hostPath string

	mu       sync.Mutex
	isolated bool
	why      string // why dynos are not isolated, when they are not
	refusal  error  // why no dyno or build may run at all, if so
	noRoot   string // why isolated dynos get no private root, if so
	noLimits string // why isolated dynos get no cgroup limits, if so
	noDisk   string // why isolated dynos get no disk quota, if so
	dynos    map[*dyno]struct{}
	oneoffs  map[*oneoff]struct{}

	rootable bool                   // isolated dynos can get a private root
	cgroups  *cgroupHost            // nil when cgroups cannot be used
	net      *network               // nil when dynos share the host's network
	reach    func(app string) []int // see SetAddonReach
	noNet    string                 // why isolated dynos get no network namespace, if so
	closeNet sync.Once
	swept    sync.Map // scratch base directories swept of stale sandboxes
	// noAccount holds the app uids the host could not be given an
	// account for, so that the warning is logged once.
	noAccount sync.Map
}

var _ engine.Supervisor = (*Supervisor)(nil)

// New returns a Supervisor with the defaults filled in. It decides here
// whether dynos get namespaces, so that Isolation can say so at startup.
func New(opts Options) *Supervisor {
	if opts.Exe == "" {
		if exe, err := os.Executable(); err == nil {
			opts.Exe = exe
		}
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	if opts.BootTimeout <= 0 {
		opts.BootTimeout = DefaultBootTimeout
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = DefaultRestartBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.User <= 0 {
		opts.User = DefaultUser
	}
	if opts.Group <= 0 {
		opts.Group = DefaultGroup
	}
	if opts.MemoryLimit == 0 {
		opts.MemoryLimit = DefaultMemoryLimit
	}
	if opts.PidsLimit == 0 {
		opts.PidsLimit = DefaultPidsLimit
	}
	if opts.DiskLimit == 0 {
		opts.DiskLimit = DefaultDiskLimit
	}
	if opts.BuildMemoryLimit == 0 {
		opts.BuildMemoryLimit = DefaultBuildMemoryLimit
	}
	if opts.BuildPidsLimit == 0 {
		opts.BuildPidsLimit = DefaultBuildPidsLimit
	}
	if opts.CycleAfter == 0 {
		opts.CycleAfter = DefaultCycleAfter
		if opts.CycleJitter == 0 {
			opts.CycleJitter = DefaultCycleJitter
		}
	}
	s := &Supervisor{
		opts:     opts,
		hostPath: os.Getenv("PATH"),
		dynos:    make(map[*dyno]struct{}),
		oneoffs:  make(map[*oneoff]struct{}),
	}
	root := os.Geteuid() == 0
	var nsErr error
	if root && opts.Isolate != ModeProcessGroup {
		nsErr = probeNamespaces(opts.Exe)
	}
	s.isolated, s.why, s.refusal = isolationPolicy(opts.Isolate, root && !opts.plainAsRoot, nsErr)
	if s.isolated {
		s.noRoot = privateRootUnavailable()
		s.rootable = s.noRoot == ""
		if !s.rootable && opts.Isolate == ModeNamespaces {
			s.refusal = refused("--isolation required, but dynos cannot get a private root here: %s", s.noRoot)
		}
		s.setupNetwork()
		if opts.MemoryLimit > 0 || opts.PidsLimit > 0 || opts.BuildMemoryLimit > 0 || opts.BuildPidsLimit > 0 {
			var err error
			if s.cgroups, err = detectCgroups(cgroupMount); err != nil {
				s.warnLimits(err)
			} else {
				s.cgroups.sweep()
			}
		}
	}
	return s
}

// isolationPolicy decides, from the mode, whether the server is root and
// whether it could create namespaces (nsErr), whether dynos and builds
// are isolated, why not if they are not, or why none may run at all.
func isolationPolicy(mode Mode, root bool, nsErr error) (isolated bool, why string, refusal error) {
	switch {
	case mode == ModeProcessGroup && root:
		return false, "", refused("--isolation none is refused when the server runs as root: app code would run as root")
	case mode == ModeProcessGroup:
		return false, "isolation turned off (--isolation none)", nil
	case root && nsErr != nil:
		return false, "", refused("the server runs as root but cannot create namespaces (%v), and app code never runs as root", nsErr)
	case root:
		return true, "", nil
	case mode == ModeNamespaces:
		return false, "", refused("--isolation required, but the server does not run as root, so it cannot isolate them (start it as root, or with --isolation auto on a single-user machine)")
	default:
		return false, "not running as root", nil
	}
}

// refused is the error with which every dyno and build is refused.
func refused(format string, args ...any) error {
	return engine.Errorf(engine.EFORBIDDEN, "This server refuses to run dynos and builds: "+format+".", args...)
}

// Refusal returns why this server runs no dyno and no build at all (see
// Mode), or nil when it runs them; Start, RunOnce and Command fail with
// it. Callers can check it before work that would end in one of those.
func (s *Supervisor) Refusal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refusal
}

// Isolation says in one line how dynos and builds are isolated, for the
// banner and apps:info: the mode first, then what it gives on this host,
// loudly when that is less than full isolation.
func (s *Supervisor) Isolation() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	mode := s.opts.Isolate.String() + ": "
	if s.refusal != nil {
		return mode + "REFUSED: " + engine.ErrorMessage(s.refusal)
	}
	if !s.isolated {
		return mode + fmt.Sprintf("WARNING: %s: dynos and builds are NOT isolated, they run as the server's own user (uid %d) as plain process groups without namespaces", s.why, os.Geteuid())
	}
	line := mode + "dynos and builds run in their own PID, mount, UTS and IPC namespaces"
	if s.noRoot == "" {
		line += ", in a private root as each app's own uid"
	} else {
		line += "; no private root (" + s.noRoot + "), dynos run in the host's root as their app's uid"
	}
	line += "; " + s.networkText()
	switch {
	case s.opts.MemoryLimit <= 0 && s.opts.PidsLimit <= 0:
	case s.noLimits != "":
		line += "; no cgroup limits (" + s.noLimits + ")"
	default:
		line += "; cgroup limits: " + s.limitsText()
	}
	switch {
	case s.opts.DiskLimit <= 0 || !s.rootable:
	case s.noDisk != "":
		line += "; no disk quota (" + s.noDisk + ")"
	default:
		line += fmt.Sprintf("; disk quota %d MiB for /app and /tmp", s.opts.DiskLimit>>20)
	}
	return line
}

// limitsText describes the configured cgroup limits.
func (s *Supervisor) limitsText() string {
	var parts []string
	if s.opts.MemoryLimit > 0 {
		parts = append(parts, fmt.Sprintf("memory quota %d MiB", s.opts.MemoryLimit>>20))
	}
	if s.opts.PidsLimit > 0 {
		parts = append(parts, fmt.Sprintf("%d processes", s.opts.PidsLimit))
	}
	return strings.Join(parts, ", ")
}

// Start launches the first process of a dyno and returns once it runs;
// from then on the dyno restarts by itself until Stop. An error means
// nothing was started.
func (s *Supervisor) Start(spec engine.DynoSpec) (engine.Dyno, error) {
	if err := s.Refusal(); err != nil {
		return nil, err
	}
	port, err := prepare(spec)
	if err != nil {
		return nil, err
	}
	d := newDyno(s, spec)
	d.web = port > 0
	p, err := d.launch(port)
	if err != nil {
		return nil, fmt.Errorf("start dyno %s of %s: %w", spec.Name, spec.App, err)
	}
	d.serve(p, port)
	s.mu.Lock()
	s.dynos[d] = struct{}{}
	s.mu.Unlock()
	go d.run(p)
	return d, nil
}

// prepare checks a spec and picks the port of a web dyno.
func prepare(spec engine.DynoSpec) (port int, err error) {
	if spec.Name == "" || spec.Command == "" || spec.Dir == "" {
		return 0, fmt.Errorf("start dyno %q of %s: name, command and directory are required", spec.Name, spec.App)
	}
	if fi, err := os.Stat(spec.Dir); err != nil {
		return 0, fmt.Errorf("start dyno %s of %s: %w", spec.Name, spec.App, err)
	} else if !fi.IsDir() {
		return 0, fmt.Errorf("start dyno %s of %s: %s is not a directory", spec.Name, spec.App, spec.Dir)
	}
	if spec.Type == "web" {
		if port, err = freePort(); err != nil {
			return 0, fmt.Errorf("start dyno %s of %s: %w", spec.Name, spec.App, err)
		}
	}
	return port, nil
}

// StopAll stops every dyno and one-off dyno still running, in parallel,
// for server shutdown; it returns once all of them are gone.
func (s *Supervisor) StopAll() {
	s.mu.Lock()
	stops := make([]func() error, 0, len(s.dynos)+len(s.oneoffs))
	for d := range s.dynos {
		stops = append(stops, d.Stop)
	}
	for o := range s.oneoffs {
		stops = append(stops, o.Stop)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, stop := range stops {
		wg.Go(func() { _ = stop() })
	}
	wg.Wait()
}

// forget drops a stopped dyno from the set StopAll walks.
func (s *Supervisor) forget(d *dyno) {
	s.mu.Lock()
	delete(s.dynos, d)
	s.mu.Unlock()
}

// spawn starts one process of a dyno, isolated or not, unless the
// server refuses to run any. A host that refuses namespaces to a dyno
// gets no fallback: a dyno not isolated would run as root.
func (s *Supervisor) spawn(cfg procConfig) (*process, error) {
	s.mu.Lock()
	isolated, refusal := s.isolated, s.refusal
	s.mu.Unlock()
	if refusal != nil {
		return nil, refusal
	}
	return s.spawnAs(cfg, isolated)
}

// spawnAs starts a process of cfg.spec: an isolated one gets the
// environment of its private root (HOME=/app) and a sandbox, removed
// again if the process does not start.
func (s *Supervisor) spawnAs(cfg procConfig, isolated bool) (*process, error) {
	cfg.isolated = isolated
	cfg.dir = cfg.spec.Dir
	home := cfg.spec.Dir
	if isolated {
		home = appDir
		cfg.box = s.newFootprint(cfg.spec)
	}
	cfg.env = dynoEnv(cfg.spec, cfg.port, s.hostPath, home)
	if cfg.box != nil && cfg.box.netErr != nil {
		cfg.box.remove()
		return nil, fmt.Errorf("give the dyno a network address: %w", cfg.box.netErr)
	}
	p, err := startProcess(cfg)
	if err != nil {
		cfg.box.remove()
		return nil, err
	}
	if p.report != "" {
		s.mu.Lock()
		if s.noRoot == "" {
			s.noRoot = p.report
		}
		s.mu.Unlock()
	}
	return p, nil
}

// warnLimits records, and logs once per supervisor, why a dyno got no
// cgroup limits: the dyno still runs, unlimited.
func (s *Supervisor) warnLimits(err error) {
	s.mu.Lock()
	first := s.noLimits == ""
	if first {
		s.noLimits = err.Error()
	}
	s.mu.Unlock()
	if first {
		log.Printf("dynos: warning: no memory or process limits for dynos: %v", err)
	}
}

// stopProcess ends a process the Heroku way: SIGTERM to all of its
// processes, then SIGKILL to whatever is left after the grace period. It
// returns once the process is reaped.
func (s *Supervisor) stopProcess(p *process, heroku func(string)) {
	heroku("Stopping all processes with SIGTERM")
	p.terminate()
	grace := s.opts.StopGrace
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		heroku("Error R12 (Exit timeout) -> At least one process failed to exit within " +
			humanDuration(grace) + " of SIGTERM")
		heroku("Stopping remaining processes with SIGKILL")
		p.kill()
		<-p.exited
	}
}

func (s *Supervisor) log(app, source, proc, line string) {
	if s.opts.Logs != nil {
		s.opts.Logs.Log(app, source, proc, line)
	}
}
