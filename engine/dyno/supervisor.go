// Package dyno runs dynos: the processes of an app, each started from a
// Procfile command in its unpacked slug, watched, restarted when it
// crashes and stopped the way Heroku stops them (SIGTERM, a grace period,
// then SIGKILL).
//
// When the server runs as root on Linux, each dyno runs in its own PID,
// mount, UTS and IPC namespaces under a tiny init (the server binary
// itself, started as "dyno-init", see InitMain), so that a dyno sees only
// its own processes, has its own hostname, and every process it leaves
// behind dies with it. Otherwise a dyno is a plain process group.
package dyno

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"hako/engine"
)

// Mode says how dynos are isolated from the host and from each other.
type Mode int

const (
	// ModeAuto uses namespaces when they can work (root on Linux) and
	// plain process groups otherwise.
	ModeAuto Mode = iota
	// ModeNamespaces runs each dyno in its own PID, mount, UTS and IPC
	// namespaces; Start fails where that is impossible.
	ModeNamespaces
	// ModeProcessGroup runs each dyno as a plain process group.
	ModeProcessGroup
)

// Defaults, as Heroku's.
const (
	DefaultStopGrace      = 30 * time.Second
	DefaultBootTimeout    = 60 * time.Second
	DefaultRestartBackoff = time.Second
	DefaultMaxBackoff     = 20 * time.Minute
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
}

// Supervisor starts dynos and keeps them running until they are stopped.
// It implements engine.Supervisor.
type Supervisor struct {
	opts     Options
	hostPath string

	mu       sync.Mutex
	isolated bool
	why      string // why dynos are not isolated, when they are not
	dynos    map[*dyno]struct{}
	oneoffs  map[*oneoff]struct{}
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
	s := &Supervisor{
		opts:     opts,
		hostPath: os.Getenv("PATH"),
		dynos:    make(map[*dyno]struct{}),
		oneoffs:  make(map[*oneoff]struct{}),
	}
	switch opts.Isolate {
	case ModeNamespaces:
		s.isolated = true
	case ModeProcessGroup:
		s.why = "isolation turned off"
	default:
		s.isolated, s.why = namespacesAvailable()
	}
	return s
}

// Isolation says in one line how dynos are isolated, for the banner.
func (s *Supervisor) Isolation() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isolated {
		return "dynos run in their own PID, mount, UTS and IPC namespaces"
	}
	return s.why + ": dynos run as plain process groups without namespaces"
}

// Start launches the first process of a dyno and returns once it runs;
// from then on the dyno restarts by itself until Stop. An error means
// nothing was started.
func (s *Supervisor) Start(spec engine.DynoSpec) (engine.Dyno, error) {
	port, err := prepare(spec)
	if err != nil {
		return nil, err
	}
	d := newDyno(s, spec)
	d.port = port
	p, err := d.launch()
	if err != nil {
		return nil, fmt.Errorf("start dyno %s of %s: %w", spec.Name, spec.App, err)
	}
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

// spawn starts one process of a dyno, isolated or not. In ModeAuto, a
// host that refuses namespaces (a container without the privilege, say)
// makes the supervisor fall back to process groups for good rather than
// leave every dyno down.
func (s *Supervisor) spawn(cfg procConfig) (*process, error) {
	s.mu.Lock()
	cfg.isolated = s.isolated
	s.mu.Unlock()
	p, err := startProcess(cfg)
	if err == nil || !cfg.isolated || s.opts.Isolate != ModeAuto || !errors.Is(err, errNamespaces) {
		return p, err
	}
	s.mu.Lock()
	s.isolated = false
	s.why = "namespaces refused (" + err.Error() + ")"
	s.mu.Unlock()
	cfg.isolated = false
	return startProcess(cfg)
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
