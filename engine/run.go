package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
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
	dir, done, err := e.unpack(req.App, slug.ID)
	if err != nil {
		return -1, err
	}
	// The pin keeps the slug directory while the dyno runs, even if
	// releases move on meanwhile.
	defer done()
	env := dynoEnv(req.App, rel, slug)
	for k, v := range req.Env {
		env[k] = v
	}
	name := fmt.Sprintf("run.%d", 1000+rand.IntN(9000))
	e.log(req.App, "api", "Starting process with command `%s` by user %s", req.Command, req.User)
	if req.Started != nil {
		req.Started(name)
	}
	// `ps` lists one-off dynos while they run, as Heroku's does.
	st := DynoStatus{Name: name, Type: "run", App: req.App, Release: rel.Version, Command: req.Command, State: DynoUp, Since: time.Now().UTC()}
	e.mu.Lock()
	if e.oneoffs == nil {
		e.oneoffs = map[string]map[string]DynoStatus{}
	}
	if e.oneoffs[req.App] == nil {
		e.oneoffs[req.App] = map[string]DynoStatus{}
	}
	e.oneoffs[req.App][name] = st
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.oneoffs[req.App], name)
		e.mu.Unlock()
	}()
	return e.Supervisor.RunOnce(ctx, DynoSpec{
		App: req.App, Type: "run", Name: name, Release: rel.Version, Command: req.Command,
		Dir: dir, Env: env, Terminal: req.Terminal,
	}, req.Stdin, req.Out)
}
