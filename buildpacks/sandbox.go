package buildpacks

import (
	"context"
	"os/exec"

	"hako/engine"
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
	Command(ctx context.Context, spec engine.SandboxSpec) (cmd *exec.Cmd, done func(), err error)
	// Isolated reports whether Command isolates: where it cannot (the
	// server is not root, or isolation is turned off), Command returns a
	// plain command in a process group of its own, run as the server's
	// user, and the access lists only document intent.
	Isolated() bool
}
