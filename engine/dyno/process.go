package dyno

import (
	"errors"
	"os"
	"sync"
	"syscall"

	"hako/engine"
)

// errNamespaces marks a failure to create a dyno's namespaces, as opposed
// to a failure to run its command, so that ModeAuto can fall back.
var errNamespaces = errors.New("cannot create namespaces")

// initEnvScript carries the wrapper script from the supervisor to the
// dyno's init, which removes it before starting the dyno's command.
const initEnvScript = "HAKO_DYNO_SCRIPT"

// initEnvArgv carries, as a JSON array, the argv a build step's init runs
// instead of a wrapper script; it is removed like initEnvScript.
const initEnvArgv = "HAKO_DYNO_ARGV"

// initEnvLifeline names the file descriptor on which a build step's init
// watches for the server to go away (see watchLifeline).
const initEnvLifeline = "HAKO_DYNO_LIFELINE_FD"

// initEnvReady names the file descriptor on which the init reports that
// it is ready for signals, along with what isolation it could not set up.
const initEnvReady = "HAKO_DYNO_READY_FD"

// initEnvGo names the file descriptor from which the init reads one byte
// before it does anything else: the supervisor sends it once the init is
// in the dyno's cgroups, so that all the dyno's processes are.
const initEnvGo = "HAKO_DYNO_GO_FD"

// initEnvRoot carries the init's rootConfig, as JSON.
const initEnvRoot = "HAKO_DYNO_ROOT"

// initEnvTTY tells the init that its standard streams are a terminal,
// which its command must get as controlling terminal.
const initEnvTTY = "HAKO_DYNO_TTY"

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
	stdin    *os.File // nil for /dev/null
	out      *os.File // stdout and stderr
	tty      bool     // stdin and out are a pseudo-terminal's slave
	box      *sandbox // isolated dynos only; may be nil
}

// process is one started process of a dyno: its init when isolated, its
// shell otherwise, which leads the dyno's process group either way.
type process struct {
	pid      int
	isolated bool
	exited   chan struct{} // closed once the process is reaped
	status   int           // exit status, 128+signal if killed; valid after exited
	outDone  chan struct{} // closed when its output reached EOF

	box       *sandbox // its scratch directory and cgroup, or nil
	report    string   // what isolation its init could not set up
	oomKilled bool     // the kernel killed one of its processes for memory; valid after exited
	r15       bool     // R15 was logged for it (used by the dyno's run goroutine only)

	mu    sync.Mutex
	ended bool // the process exited: its pid may no longer be signalled
}

// terminate asks every process of the dyno to exit. An isolated dyno's
// init forwards the signal to all processes in its namespace.
func (p *process) terminate() { p.signal(syscall.SIGTERM) }

// kill ends every process of the dyno at once. Killing an isolated dyno's
// init makes the kernel kill everything left in its PID namespace.
func (p *process) kill() { p.signal(syscall.SIGKILL) }
