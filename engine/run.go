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
	// Kind is the one-off's process type, which names it (scheduler.1234,
	// postdeploy.1234): "run" when empty.
	Kind string
	// Name, when set and no running one-off of the app has it, names the
	// dyno: one handed to a client before it starts (the heroku CLI's
	// attach URL) keeps its name. Otherwise one is picked.
	Name string
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
	uid, gid, err := e.identity(req.App)
	if err != nil {
		return -1, err
	}
	env := dynoEnv(req.App, rel, slug)
	for k, v := range req.Env {
		env[k] = v
	}
	if err := e.waitAddons(ctx); err != nil {
		return -1, err
	}
	e.log(req.App, "api", "Starting process with command `%s` by user %s", req.Command, req.User)
	// `ps` lists one-off dynos while they run, as Heroku's does. The name
	// is claimed under the lock, so two runs never share one.
	e.mu.Lock()
	if e.oneoffs[req.App] == nil {
		e.oneoffs[req.App] = map[string]DynoStatus{}
	}
	kind := req.Kind
	if kind == "" {
		kind = "run"
	}
	name := req.Name
	// A name reserved for this run (ReserveOneoff) is listed as starting.
	if st, taken := e.oneoffs[req.App][name]; name == "" || taken && st.State != DynoStarting {
		name = oneoffName(kind, e.oneoffs[req.App])
	}
	e.oneoffs[req.App][name] = DynoStatus{Name: name, Type: kind, App: req.App, Release: rel.Version, Command: req.Command, State: DynoUp, Since: time.Now().UTC()}
	// ps:stop ends it (StopOneoffs).
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	if e.oneoffStops == nil {
		e.oneoffStops = map[string]map[string]context.CancelFunc{}
	}
	if e.oneoffStops[req.App] == nil {
		e.oneoffStops[req.App] = map[string]context.CancelFunc{}
	}
	e.oneoffStops[req.App][name] = stop
	e.mu.Unlock()
	if req.Started != nil {
		req.Started(name)
	}
	defer func() {
		e.mu.Lock()
		delete(e.oneoffs[req.App], name)
		if delete(e.oneoffStops[req.App], name); len(e.oneoffStops[req.App]) == 0 {
			delete(e.oneoffStops, req.App)
		}
		e.mu.Unlock()
	}()
	return e.Supervisor.RunOnce(ctx, DynoSpec{
		App: req.App, Type: kind, Name: name, Release: rel.Version, Command: req.Command,
		Dir: dir, Env: env, Terminal: req.Terminal, UID: uid, GID: gid,
	}, req.Stdin, req.Out)
}

// stopOneoffs ends the app's running one-off dynos (of Run) named
// target (run.1234) or of its type (run), the usual way (SIGTERM, grace,
// SIGKILL), without waiting, and returns how many: they are not
// restarted, as on Heroku, so one started detached need not run until
// its cycle.
func (e *Engine) stopOneoffs(app, target string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for name, stop := range e.oneoffStops[app] {
		if name == target || e.oneoffs[app][name].Type == target {
			stop()
			n++
		}
	}
	return n
}

// OneoffName picks a name for a one-off dyno of kind ("run") of the app
// that none running has now, for RunRequest.Name.
func (e *Engine) OneoffName(app, kind string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return oneoffName(kind, e.oneoffs[app])
}

// ReserveOneoff lists a one-off dyno of the app that starts later, once
// its client comes (the heroku CLI's attach URL), as starting, under a
// name no one-off of the app has: `ps` shows it, and the Run given that
// name (RunRequest.Name) takes it over. cancel drops it unless a Run has
// taken it; call it once the client is done or will not come.
func (e *Engine) ReserveOneoff(app, kind, command string, release int) (name string, cancel func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.oneoffs[app] == nil {
		e.oneoffs[app] = map[string]DynoStatus{}
	}
	name = oneoffName(kind, e.oneoffs[app])
	e.oneoffs[app][name] = DynoStatus{Name: name, Type: kind, App: app, Release: release, Command: command, State: DynoStarting, Since: time.Now().UTC()}
	return name, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if st, ok := e.oneoffs[app][name]; ok && st.State == DynoStarting {
			delete(e.oneoffs[app], name)
		}
	}
}

// oneoffName picks a name (run.1234, as Heroku's) that no running one-off
// dyno of the app has. Four digits leave 9,000 names; past a few hundred
// running at once the numbers grow longer rather than repeat.
func oneoffName(kind string, running map[string]DynoStatus) string {
	for n := 9000; ; n *= 10 {
		for try := 0; try < 8; try++ {
			name := fmt.Sprintf("%s.%d", kind, n/9+rand.IntN(n))
			if _, taken := running[name]; !taken {
				return name
			}
		}
	}
}
