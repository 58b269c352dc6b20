package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
)

// RunRequest is a one-off dyno to run attached: `hako run -a APP bash`.
type RunRequest struct {
	App     string
	Command string
	User    string
	// Env adds variables to the release's config vars for this dyno only.
	Env      map[string]string
	Stdin    io.Reader
	Out      io.Writer
	Terminal *Terminal
	// Started, when set, is called with the dyno's name once it is known,
	// so a client can print "Running bash on ⬢ app... up, run.1234".
	Started func(name string)
}

// Run runs a one-off dyno on the app's current release, with its config
// vars, attached to the caller, and returns the command's exit status.
// Returns EINVALID or ENOTFOUND.
func (e *Engine) Run(ctx context.Context, req RunRequest) (int, error) {
	if req.Command == "" {
		return -1, Errorf(EINVALID, "Usage: hako run -a APP COMMAND (e.g. bash)")
	}
	for k := range req.Env {
		if err := ValidateConfigKey(k); err != nil {
			return -1, err
		}
	}
	_, rel, slug, err := e.current(req.App)
	if err != nil {
		return -1, err
	}
	if slug == nil {
		return -1, Errorf(EINVALID, "%s has no release to run yet: deploy it first with git push.", req.App)
	}
	dir, err := e.unpack(req.App, rel.Version, slug.ID)
	if err != nil {
		return -1, err
	}
	env := dynoEnv(req.App, rel, slug)
	for k, v := range req.Env {
		env[k] = v
	}
	name := fmt.Sprintf("run.%d", 1000+rand.IntN(9000))
	e.log(req.App, "api", "Starting process with command `%s` by user %s", req.Command, req.User)
	if req.Started != nil {
		req.Started(name)
	}
	return e.Supervisor.RunOnce(ctx, DynoSpec{
		App: req.App, Type: "run", Name: name, Release: rel.Version, Command: req.Command,
		Dir: dir, Env: env, Terminal: req.Terminal,
	}, req.Stdin, req.Out)
}
