package engine

import (
	"context"
	"io"
	"time"
)

// Dyno states, as Heroku names them.
const (
	DynoStarting = "starting"
	DynoUp       = "up"
	DynoCrashed  = "crashed"
	DynoDown     = "down"
)

// DynoSpec is everything needed to start one dyno.
type DynoSpec struct {
	App     string
	Type    string // "web", "worker", "run", "release"
	Name    string // "web.1"
	Release int
	Command string
	// Dir is the unpacked slug; it is the dyno's HOME and /app.
	Dir string
	// Env holds config vars and dyno metadata; the supervisor adds PORT,
	// DYNO, HOME and PATH.
	Env map[string]string
	// Terminal, for a one-off dyno attached to a user's terminal, makes
	// RunOnce give it a pseudo-terminal; nil runs it with pipes.
	Terminal *Terminal
	// UID and GID are who an isolated dyno's processes run as: the app's
	// own identity (App.UID). Zero leaves the choice to the supervisor.
	UID, GID int
}

// Terminal is the size of the user's terminal and its later changes.
type Terminal struct {
	Cols, Rows uint16
	// Resize delivers new sizes; it may be nil.
	Resize <-chan [2]uint16
}

// DynoStatus is a dyno as `ps` shows it.
type DynoStatus struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	App     string    `json:"app"`
	Release int       `json:"release"`
	Command string    `json:"command"`
	State   string    `json:"state"`
	Since   time.Time `json:"updated_at"`
	Port    int       `json:"port,omitempty"`
	PID     int       `json:"pid,omitempty"`
}

// Dyno is a running dyno the supervisor keeps alive until Stop.
type Dyno interface {
	Status() DynoStatus
	// Addr is "127.0.0.1:PORT" for web dynos, "" otherwise.
	Addr() string
	// Up reports whether the dyno can take requests now.
	Up() bool
	// WaitUp returns nil once the dyno is up (its PORT accepts
	// connections, or it has started when it has no port), or an error if
	// it crashed first or ctx ended.
	WaitUp(ctx context.Context) error
	// Stop ends every process of the dyno: SIGTERM, then SIGKILL after the
	// grace period. It returns once they are gone.
	Stop() error
}

// Leaser is implemented by Backends that count the requests sent to
// them, so that a dyno being replaced stops only once the requests it took
// are answered. Lease returns where to send one request and the function
// to call when its response is over; ok is false once the dyno takes no
// new requests (it is stopping).
type Leaser interface {
	Lease() (addr string, done func(), ok bool)
}

// Supervisor starts dynos and restarts them when they crash.
type Supervisor interface {
	Start(spec DynoSpec) (Dyno, error)
	// RunOnce runs a one-off dyno (the release phase, `hako run`) with
	// the same isolation and environment as any dyno, never restarting it:
	// stdin feeds it, out gets its output, and it returns the exit status.
	// Cancelling ctx stops it (SIGTERM, grace, SIGKILL).
	RunOnce(ctx context.Context, spec DynoSpec, stdin io.Reader, out io.Writer) (int, error)
	// Isolation says in one line how dynos are isolated on this host, for
	// the server banner (e.g. what it could not do without root).
	Isolation() string
}

// DirPreparer is implemented by supervisors whose dynos run as another
// user than the server: PrepareDir makes a release's unpacked slug the
// property of uid:gid (the app's identity; zero: the supervisor's
// default) and closed to every other user, before any dyno of the
// release starts. It is cheap on a directory prepared already, so that it
// may be called again on a release unpacked by an older server.
type DirPreparer interface {
	PrepareDir(dir string, uid, gid int) error
}

// DirOwner is implemented by supervisors that can say beforehand whom
// PrepareDir gives a slug to (ok false: no one, it changes nothing), so
// that a builder that is an OwnedUnpacker gives each file to them as it
// writes it rather than in a second walk; PrepareDir then finds the
// tree prepared.
type DirOwner interface {
	DirOwner(uid, gid int) (ouid, ogid int, ok bool)
}

// OwnedUnpacker is implemented by builders that can give an unpacked
// slug to uid:gid in the same pass, its top directory closed to every
// other user (mode 0700), as DirPreparer's PrepareDir leaves it.
type OwnedUnpacker interface {
	UnpackOwned(slugID, dest string, uid, gid int) error
}

// Refuser is implemented by supervisors that may refuse to run any app
// code on this host (a server whose isolation policy cannot be met):
// Refusal says why, as an *Error for the user, or is nil.
type Refuser interface {
	Refusal() error
}

// Backend is a web dyno as the router sees it.
type Backend interface {
	Addr() string
	Up() bool
	Status() DynoStatus
}

// RouteTable is told which web dynos serve each app; it never reads the
// store.
type RouteTable interface {
	SetBackends(app string, backends []Backend)
	// SetDomains replaces the custom hostnames that route to app.
	SetDomains(app string, hosts []string)
	// SetMaintenance turns app's maintenance mode (H80) on or off.
	SetMaintenance(app string, on bool)
	RemoveApp(app string)
}

// LogSink receives log lines of apps: dyno output and platform events.
// Implementations must never block the caller.
type LogSink interface {
	// Log records one line; source is "app" or "heroku", proc is the dyno
	// name, "api" or "router".
	Log(app, source, proc, line string)
}
