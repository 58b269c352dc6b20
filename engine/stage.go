package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// A release goes live in two steps, so that nothing serves before it can
// run and, for a push, before git has moved the branch:
//
//  1. stage: the release is written pending (not current), its release
//     phase runs, its dynos start next to the old ones and the web ones
//     must come up. A failure marks the release failed, stops the new
//     dynos and leaves the old ones serving.
//  2. goLive: the release becomes current in one store transaction, the
//     router switches to the new web dynos, and the old dynos stop once
//     their requests are done (preboot, as Heroku's).
//
// Config changes and rollbacks do both at once; a push stages in git's
// pre-receive hook and goes live once git has moved the ref (see
// StagedDeploy).

// staged is a release written pending whose dynos run but do not serve.
type staged struct {
	app     string
	rel     *Release
	slug    *Slug // nil for a release without code (config before a deploy)
	started []*instance
	// unpin unpins the slug's directory (see unpack) once the dynos are in
	// the engine's table or stopped.
	unpin func()
}

// stage writes rel pending (with newSlug, when it brings one), runs its
// release phase and starts the formation's dynos on it, waiting until the
// web ones are up. The caller holds the app's lock. On failure nothing
// serves differently: the release is marked failed (or, if it could not
// even be written, newSlug's file is removed) and the new dynos stopped.
func (e *Engine) stage(ctx context.Context, app *App, rel *Release, slug, newSlug *Slug, out io.Writer) (*staged, error) {
	rel.Status = ReleasePending
	if slug == nil {
		// Nothing to run: the release is current at once.
		rel.Status = ReleaseSucceeded
	}
	var err error
	if newSlug != nil {
		err = e.recordSlug(newSlug.ID, func() (err error) {
			rel, err = e.Store.CreateRelease(rel, newSlug)
			return err
		})
	} else {
		rel, err = e.Store.CreateRelease(rel, nil)
	}
	if err != nil {
		if newSlug != nil {
			e.dropUnrecorded(newSlug.ID)
		}
		return nil, err
	}
	// What falls out of the app's retained slugs goes now, so that a
	// loop of failing releases bounds the disk too.
	e.retainSlugs(app.Name)
	e.log(app.Name, "api", "%s by user %s", rel.Description, rel.User)
	e.log(app.Name, "api", "Release v%d created by user %s", rel.Version, rel.User)
	st := &staged{app: app.Name, rel: rel, slug: slug}
	if slug == nil {
		return st, nil
	}
	fail := func(err error) (*staged, error) {
		e.stopDynos(st.started)
		st.done()
		if _, serr := e.Store.SetReleaseStatus(app.Name, rel.Version, ReleaseFailed); serr != nil {
			return nil, errors.Join(err, serr)
		}
		return nil, err
	}
	if phase := slug.ProcessTypes[ReleasePhaseType]; phase != "" {
		if err := e.releasePhase(ctx, app.Name, rel, slug, phase, out); err != nil {
			return fail(err)
		}
	}
	if newSlug != nil {
		if err := e.predeploy(ctx, app.Name, rel, slug, out); err != nil {
			return fail(err)
		}
	}
	formation, changed := declaredFormation(app.Formation, slug.ProcessTypes, slugAppJSON(slug))
	if changed {
		if err := e.Store.SetFormation(app.Name, formation); err != nil {
			return fail(err)
		}
	}
	specs, unpin, err := e.specs(app.Name, rel, slug, formation)
	if err != nil {
		return fail(err)
	}
	st.unpin = unpin
	st.started, err = e.startAll(ctx, specs)
	if err != nil && newSlug == nil && !e.serving(app.Name) {
		// A config change or rollback while no web dyno serves (the app
		// crashes, say, for want of the config var this sets): there is
		// nothing to protect, and refusing would keep the fix out.
		e.log(app.Name, "api", "Release v%d: %s; it goes live all the same, as no dyno of v%d was up", rel.Version, ErrorMessage(err), app.CurrentRelease)
		fmt.Fprintf(out, " !     v%d: %s; it goes live all the same, as no dyno of v%d was up.\n", rel.Version, ErrorMessage(err), app.CurrentRelease)
		err = nil
	}
	if err == nil {
		err = e.startupChecks(ctx, app.Name, slugAppJSON(slug), st.started, out)
	}
	if err != nil {
		msg := fmt.Sprintf("Release v%d failed: %s; v%d keeps serving. `hako logs -a %s` shows why.", rel.Version, ErrorMessage(err), app.CurrentRelease, app.Name)
		e.log(app.Name, "api", "Release v%d failed: %s", rel.Version, ErrorMessage(err))
		fmt.Fprintf(out, " !     %s\n", msg)
		return fail(Errorf(EBUILD, "%s", msg))
	}
	return st, nil
}

// serving reports whether one of the app's web dynos is up.
func (e *Engine) serving(app string) bool {
	for _, in := range e.runningOf(app) {
		if in.spec.Type == "web" && in.Up() {
			return true
		}
	}
	return false
}

// goLive makes a staged release current, points the router at its web
// dynos and stops the dynos it replaces. The caller holds the app's lock.
func (e *Engine) goLive(st *staged) (*Release, error) {
	if st.slug == nil {
		return st.rel, nil
	}
	defer st.done()
	rel, err := e.Store.SetReleaseStatus(st.app, st.rel.Version, ReleaseSucceeded)
	if err != nil {
		e.stopDynos(st.started)
		return nil, err
	}
	e.replaceRunning(st.app, st.started, func(*instance) bool { return true })
	// The replaced dynos are gone: the slug they ran may go too.
	e.retainSlugs(st.app)
	e.narrate(st.app, StepLive, fmt.Sprintf("v%d", rel.Version))
	return rel, nil
}

// done unpins the staged slug's directory, once.
func (st *staged) done() {
	if st.unpin != nil {
		st.unpin()
		st.unpin = nil
	}
}

// abandon marks a staged release failed and stops its dynos; the old ones
// never stopped serving. why goes to the app's log.
func (e *Engine) abandon(st *staged, why string) {
	e.stopDynos(st.started)
	defer st.done()
	if st.slug != nil {
		_, _ = e.Store.SetReleaseStatus(st.app, st.rel.Version, ReleaseFailed)
	}
	e.log(st.app, "api", "Release v%d failed: %s", st.rel.Version, why)
}

// specs lists the dynos of formation on rel, its slug unpacked once (see
// unpack; done unpins the directory, once the dynos have started).
func (e *Engine) specs(app string, rel *Release, slug *Slug, formation map[string]int) ([]DynoSpec, func(), error) {
	dir, done, err := e.unpack(app, slug.ID)
	if err != nil {
		return nil, nil, err
	}
	uid, gid, err := e.identity(app)
	if err != nil {
		done()
		return nil, nil, err
	}
	var specs []DynoSpec
	env := dynoEnv(app, rel, slug)
	for _, t := range formationTypes(slug.ProcessTypes) {
		for i := 1; i <= formation[t]; i++ {
			specs = append(specs, DynoSpec{
				App: app, Type: t, Name: fmt.Sprintf("%s.%d", t, i), Release: rel.Version,
				Command: slug.ProcessTypes[t], Dir: dir, Env: env, UID: uid, GID: gid,
			})
		}
	}
	return specs, done, nil
}

// startsAtOnce is how many dynos startEach starts at a time: a start
// waits on the kernel (a network namespace, a cgroup, a fork and exec)
// more than it computes, so starting 50 one after the other took 50
// times that wait.
const startsAtOnce = 16

type startResult struct {
	dyno Dyno
	err  error
}

// startEach starts every spec, up to startsAtOnce at a time, and returns
// the results in the specs' order.
func startEach(sup Supervisor, specs []DynoSpec) []startResult {
	out := make([]startResult, len(specs))
	if len(specs) == 1 {
		out[0].dyno, out[0].err = sup.Start(specs[0])
		return out
	}
	sem := make(chan struct{}, startsAtOnce)
	var wg sync.WaitGroup
	for i := range specs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i].dyno, out[i].err = sup.Start(specs[i])
		}()
	}
	wg.Wait()
	return out
}

// startAll starts specs and waits for the web ones to come up, so that a
// release takes traffic only once it can answer. It returns the dynos it
// started even on error, for the caller to stop; the error says in the
// user's words which dyno failed.
func (e *Engine) startAll(ctx context.Context, specs []DynoSpec) ([]*instance, error) {
	if err := e.waitAddons(ctx); err != nil {
		e.logf("start dynos: %v", err)
		return nil, Errorf(EBUILD, "the server stopped before its add-on servers were up")
	}
	var started []*instance
	var failed []string
	for i, d := range startEach(e.Supervisor, specs) {
		if d.err != nil {
			e.log(specs[i].App, "api", "Error: %s could not be started: %v", specs[i].Name, d.err)
			failed = append(failed, specs[i].Name+" could not be started")
			continue
		}
		started = append(started, &instance{spec: specs[i], Dyno: d.dyno})
	}
	e.noteStaged(started)
	wait := e.WaitUp
	if wait == 0 {
		wait = 60 * time.Second
	}
	// The supervisor's own boot timeout (R10) ends a dyno that never binds;
	// the margin lets that verdict, not this deadline, decide.
	wctx, cancel := context.WithTimeout(ctx, wait+5*time.Second)
	defer cancel()
	for _, in := range started {
		if in.spec.Type != "web" {
			continue
		}
		if err := in.WaitUp(wctx); err != nil {
			// WaitUp ends early only when the dyno crashed (R10 included)
			// or was stopped.
			why := "crashed before it came up"
			switch {
			case ctx.Err() != nil:
				why = "was cancelled before it came up"
			case wctx.Err() != nil:
				why = fmt.Sprintf("did not come up within %v", wait)
			}
			failed = append(failed, in.spec.Name+" "+why)
		}
	}
	if len(failed) > 0 {
		return started, Errorf(EBUILD, "%s", strings.Join(failed, ", "))
	}
	return started, nil
}
