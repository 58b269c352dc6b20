package engine

// SandboxSpec describes one build step to run isolated: the builder
// (package buildpacks, whose Sandbox runs it) and the supervisor (package
// engine/dyno, which implements that Sandbox) both speak it.
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
	// App is the app the command builds, whose attached add-ons an
	// isolating sandbox lets it reach, as Heroku's builds reach theirs
	// (a build script running migrations with DATABASE_URL); "" for work
	// of no app's, which reaches no add-on.
	App string
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
