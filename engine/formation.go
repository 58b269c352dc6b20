package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// MaxQuantity caps each process type: a laptop is not a data centre, and
// a typo like web=1000 should not fork-bomb it.
const MaxQuantity = 100

// FormationEntry is one process type with its command and quantity.
type FormationEntry struct {
	Type     string `json:"type"`
	Quantity int    `json:"quantity"`
	Command  string `json:"command"`
	Size     string `json:"size"`
}

// current returns the app, its current release and that release's slug
// (nil before the first deploy).
func (e *Engine) current(name string) (*App, *Release, *Slug, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, nil, nil, err
	}
	rel, err := e.Store.Release(name, app.CurrentRelease)
	if err != nil {
		return nil, nil, nil, err
	}
	if rel.SlugID == "" {
		return app, rel, nil, nil
	}
	slug, err := e.Store.Slug(rel.SlugID)
	if err != nil {
		return nil, nil, nil, err
	}
	return app, rel, slug, nil
}

// Formation lists the app's process types with their quantity. Returns
// ENOTFOUND.
func (e *Engine) Formation(name string) ([]FormationEntry, error) {
	app, _, slug, err := e.current(name)
	if err != nil || slug == nil {
		return []FormationEntry{}, err
	}
	out := []FormationEntry{}
	for _, t := range formationTypes(slug.ProcessTypes) {
		out = append(out, FormationEntry{Type: t, Quantity: app.Formation[t], Command: slug.ProcessTypes[t], Size: "Basic"})
	}
	return out, nil
}

// Scale sets the quantity of process types and starts or stops dynos to
// match, without a new release. Returns EINVALID or ENOTFOUND.
func (e *Engine) Scale(ctx context.Context, name, user string, updates map[string]int) ([]FormationEntry, error) {
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	defer e.lock(name)()
	app, rel, slug, err := e.current(name)
	if err != nil {
		return nil, err
	}
	if slug == nil {
		return nil, Errorf(EINVALID, "%s has no process types yet: deploy it first with git push.", name)
	}
	known := formationTypes(slug.ProcessTypes)
	formation := map[string]int{}
	for k, v := range app.Formation {
		formation[k] = v
	}
	var types []string
	for t, q := range updates {
		if _, ok := slug.ProcessTypes[t]; !ok || !inFormation(t) {
			return nil, Errorf(EINVALID, "No such process type %s defined in Procfile. Known types: %s.", t, strings.Join(known, ", "))
		}
		if q < 0 {
			return nil, Errorf(EINVALID, "Cannot scale %s to %d: quantities start at 0.", t, q)
		}
		if q > MaxQuantity {
			return nil, Errorf(EINVALID, "Cannot scale %s to %d: hako caps each process type at %d dynos.", t, q, MaxQuantity)
		}
		formation[t] = q
		types = append(types, t)
	}
	if err := e.Store.SetFormation(name, formation); err != nil {
		return nil, err
	}
	sort.Strings(types)
	var desc []string
	for _, t := range types {
		desc = append(desc, fmt.Sprintf("%s@%d:Basic", t, formation[t]))
	}
	e.log(name, "api", "Scaled to %s by user %s", strings.Join(desc, " "), user)
	dir, done, err := e.unpack(name, slug.ID)
	if err != nil {
		return nil, err
	}
	defer done()
	uid, gid, err := e.identity(name)
	if err != nil {
		return nil, err
	}
	env := dynoEnv(name, rel, slug)
	for _, t := range types {
		have := map[int]*instance{}
		for _, in := range e.runningOf(name) {
			if typ, n := splitDynoName(in.spec.Name); typ == t {
				have[n] = in
			}
		}
		var specs []DynoSpec
		for i := 1; i <= formation[t]; i++ {
			if have[i] == nil {
				specs = append(specs, DynoSpec{App: name, Type: t, Name: fmt.Sprintf("%s.%d", t, i), Release: rel.Version, Command: slug.ProcessTypes[t], Dir: dir, Env: env, UID: uid, GID: gid})
			}
		}
		started, err := e.startAll(ctx, specs)
		e.replaceRunning(name, started, func(in *instance) bool {
			typ, n := splitDynoName(in.spec.Name)
			return typ == t && n > formation[t]
		})
		if err != nil {
			e.log(name, "api", "Scaling %s: %v", t, err)
		}
	}
	return e.Formation(name)
}

// Restart replaces the app's dynos with new ones on the current release:
// all of them, one type ("web") or one dyno ("web.1"). A one-off dyno
// named (run.1234), or its type (run), is stopped instead: one-offs are
// not restarted. Returns EINVALID or ENOTFOUND.
func (e *Engine) Restart(ctx context.Context, name, user, target string) error {
	if _, err := e.App(name); err != nil {
		return err
	}
	if target != "" {
		if n := e.stopOneoffs(name, target); n > 0 {
			e.log(name, "api", "Stop %s by user %s", target, user)
			return nil
		}
	}
	defer e.lock(name)()
	match := func(in *instance) bool {
		return target == "" || in.spec.Name == target || in.spec.Type == target
	}
	var olds []*instance
	for _, in := range e.runningOf(name) {
		if match(in) {
			olds = append(olds, in)
		}
	}
	if len(olds) == 0 {
		if target == "" {
			return Errorf(EINVALID, "%s has no running dynos to restart: `hako ps:scale -a %s web=1` starts one.", name, name)
		}
		return Errorf(ENOTFOUND, "No dyno or process type %s is running on %s: `hako ps -a %s` lists them.", target, name, name)
	}
	what := "all dynos"
	if target != "" {
		what = target
	}
	e.log(name, "api", "Restart %s by user %s", what, user)
	var failed []string
	for _, old := range olds {
		if err := e.replaceDyno(ctx, name, old); err != nil {
			failed = append(failed, ErrorMessage(err))
		}
	}
	if len(failed) > 0 {
		return Errorf(EBUILD, "%s.", strings.Join(failed, "; "))
	}
	return nil
}

// replaceDyno puts a fresh dyno in old's place. A web dyno that is up is
// replaced with preboot, as Heroku's: its replacement starts next to it
// and must come up before the router switches to it, and only then does
// the old one stop (once its requests are done), so requests never find
// the app without an up dyno; if the replacement fails, the old one keeps
// serving. Other dynos stop first: two copies of a worker (holding a
// lock, say) must not run at once.
func (e *Engine) replaceDyno(ctx context.Context, app string, old *instance) error {
	isOld := func(in *instance) bool { return in == old }
	if old.spec.Type != WebType || !old.Up() {
		e.replaceRunning(app, nil, isOld)
		started, err := e.startAll(ctx, []DynoSpec{old.spec})
		e.replaceRunning(app, started, func(*instance) bool { return false })
		return err
	}
	started, err := e.startAll(ctx, []DynoSpec{old.spec})
	if err != nil {
		e.stopDynos(started)
		e.log(app, "api", "Restart of %s: its replacement %s; the old %s keeps running", old.spec.Name, strings.TrimPrefix(ErrorMessage(err), old.spec.Name+" "), old.spec.Name)
		return Errorf(EBUILD, "the replacement of %s failed (%s), so the old %s keeps running", old.spec.Name, ErrorMessage(err), old.spec.Name)
	}
	e.replaceRunning(app, started, isOld)
	return nil
}
