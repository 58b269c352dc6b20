package dyno

import (
	"errors"
	"os"
	"sync"
	"syscall"

	"hako/engine"
)

// errNamespaces marks a failure to create a dyno's namespaces, as opposed
// to a failure to run its command.
var errNamespaces = errors.New("cannot create namespaces")

// procConfig is what starting one dyno process takes. The caller fills in
// spec, port, script, stdin and out; spawn the rest.
type procConfig struct {
	spec     engine.DynoSpec
	port     int
	isolated bool
	exe      string // the init binary, for isolated dynos
	script   string // run with sh -c
	dir      string
	env      []string
	stdin    *os.File   // nil for /dev/null
	out      *os.File   // stdout and stderr
	tty      bool       // stdin and out are a pseudo-terminal's slave
	box      *footprint // isolated dynos only; may be nil
}

// process is one started process of a dyno: its init when isolated, its
// shell otherwise, which leads the dyno's process group either way.
type process struct {
	pid      int
	isolated bool
	host     string        // the address its PORT is reached at: its network namespace's, or loopback
	exited   chan struct{} // closed once the process is reaped and its sandbox removed
	status   int           // exit status, 128+signal if killed; valid after exited
	outDone  chan struct{} // closed when its output reached EOF

	// known is closed once the exit status is known, as knownStatus: an
	// isolated dyno's init reports it as soon as the dyno's last process
	// is gone, before the kernel tears its namespaces down and before the
	// supervisor removes its sandbox (tens of milliseconds on a busy
	// host); otherwise when the process is reaped.
	known       chan struct{}
	knownOnce   sync.Once
	knownStatus int

	box       *footprint // its scratch directory and cgroup, or nil
	report    string     // what isolation its init could not set up
	oomKilled bool       // the kernel killed one of its processes for memory; valid after exited
	r15       bool       // R15 was logged for it (used by the dyno's run goroutine only)

	mu    sync.Mutex
	ended bool // the process exited: its pid may no longer be signalled
}

// setKnown records the exit status, the first time only.
func (p *process) setKnown(status int) {
	p.knownOnce.Do(func() {
		p.knownStatus = status
		close(p.known)
	})
}

// terminate asks every process of the dyno to exit. An isolated dyno's
// init forwards the signal to all processes in its namespace.
func (p *process) terminate() { p.signal(syscall.SIGTERM) }

// kill ends every process of the dyno at once. Killing an isolated dyno's
// init makes the kernel kill everything left in its PID namespace.
func (p *process) kill() { p.signal(syscall.SIGKILL) }
