package engine

import (
	"context"
	"os/exec"
)

// Sandbox runs the steps of a build (buildpack scripts, the fetching of a
// buildpack) with the isolation dynos get. Builds run code the server did
// not write, pushed source and third-party buildpacks, so they must not
// run as the server's user in the host's root any more than dynos do.
type Sandbox interface {
	// Command returns a command, not yet started, that runs spec.Argv
	// isolated: in namespaces of its own, in a private root that shows the
	// host's system and PATH directories read-only, spec.Writable read and
	// write and spec.ReadOnly read-only (each at the same path as on the
	// host) and nothing else of the host, as spec.UID:spec.GID (the
	// app's own unprivileged user). The Writable paths are given to that
	// user first, so that it can write there; the ReadOnly ones must be
	// readable by it.
	//
	// The caller sets the command's standard streams (and WaitDelay if it
	// likes), starts it, waits for it, then calls done, which releases what
	// the command held (scratch directory, cgroup); done must be called
	// once whenever err is nil, started or not. Cancelling ctx kills the
	// command with every process it started.
	Command(ctx context.Context, spec SandboxSpec) (cmd *exec.Cmd, done func(), err error)
	// Isolated reports whether Command isolates: where it cannot (the
	// server is not root, or isolation is turned off), Command returns a
	// plain command in a process group of its own, run as the server's
	// user, and the access lists only document intent.
	Isolated() bool
}

// SandboxSpec describes one command to run in a Sandbox.
type SandboxSpec struct {
	// Name says what the command is ("compile", "git"), for the names of
	// what the sandbox holds on the host; it need not be unique.
	Name string
	// Argv is the program and its arguments; a program without a slash is
	// looked up in the PATH of Env.
	Argv []string
	// Env is the command's whole environment.
	Env []string
	// Dir is the directory the command starts in, at the same path inside
	// the sandbox, so it must be one of (or lie under) the paths below.
	Dir string
	// Writable and ReadOnly are the host paths the command can see besides
	// the system directories: absolute paths outside /proc, /dev and /sys.
	// A path in both lists is writable.
	Writable, ReadOnly []string
	// UID and GID are who the command runs as when isolated: the identity
	// of the app being built (App.UID), so that its build cannot touch
	// another app's files. Zero leaves the choice to the sandbox.
	UID, GID int
	// Overlays are directories the command sees in layers, mounted after
	// the paths above (so one may lie in a Writable path); an isolating
	// sandbox only, others ignore them.
	Overlays []Overlay
}

// Overlay shows Lower, which the command cannot change, at Path with
// Upper above it: what the command writes at Path lands in Upper, so a
// directory every app's builds read (a cache filled by a trusted step)
// is shared without any of them changing what the others see. Work is
// the overlay's own scratch directory, on Upper's filesystem. The paths
// are the host's; Upper and Work need not be visible to the command.
type Overlay struct {
	Path, Lower, Upper, Work string
}
