package dyno

import (
	"errors"
	"os"
	"sync"
	"syscall"
)

// errNamespaces marks a failure to create a dyno's namespaces, as opposed
// to a failure to run its command, so that ModeAuto can fall back.
var errNamespaces = errors.New("cannot create namespaces")

// initEnvScript carries the wrapper script from the supervisor to the
// dyno's init, which removes it before starting the dyno's command.
const initEnvScript = "HAKO_DYNO_SCRIPT"

// initEnvReady names the file descriptor on which the init reports that
// it is ready for signals.
const initEnvReady = "HAKO_DYNO_READY_FD"

// procConfig is what starting one dyno process takes.
type procConfig struct {
	isolated bool
	exe      string // the init binary, for isolated dynos
	script   string // run with sh -c
	dir      string
	env      []string
	stdin    *os.File // nil for /dev/null
	out      *os.File // stdout and stderr
}

// process is one started process of a dyno: its init when isolated, its
// shell otherwise, which leads the dyno's process group either way.
type process struct {
	pid      int
	isolated bool
	exited   chan struct{} // closed once the process is reaped
	status   int           // exit status, 128+signal if killed; valid after exited
	outDone  chan struct{} // closed when its output reached EOF

	mu    sync.Mutex
	ended bool // the process exited: its pid may no longer be signalled
}

// terminate asks every process of the dyno to exit. An isolated dyno's
// init forwards the signal to all processes in its namespace.
func (p *process) terminate() { p.signal(syscall.SIGTERM) }

// kill ends every process of the dyno at once. Killing an isolated dyno's
// init makes the kernel kill everything left in its PID namespace.
func (p *process) kill() { p.signal(syscall.SIGKILL) }
