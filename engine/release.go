package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Deploy builds a commit or an uploaded source and releases it at once
// (`hako builds:create`): StageDeploy, then Release. Returns EINVALID,
// ENOTFOUND or EBUILD.
func (e *Engine) Deploy(ctx context.Context, req DeployRequest) (*Release, error) {
	d, err := e.StageDeploy(ctx, req)
	if err != nil {
		return nil, err
	}
	return d.Release(req.Out)
}

// StageDeploy builds req and stages the release (see stage): written
// pending, its release phase run, its dynos up, serving nothing yet. The
// app's lock is held from before the build until Release or Abort, one of
// which must follow: a push releases only once git has moved its branch,
// and nothing else changes the app in between. A failed build stores
// nothing and leaves the current release serving. Returns EINVALID,
// ENOTFOUND or EBUILD.
func (e *Engine) StageDeploy(ctx context.Context, req DeployRequest) (*StagedDeploy, error) {
	if req.Started.IsZero() {
		req.Started = time.Now()
	}
	run := e.buildRuns.get(req.BuildID)
	app, err := e.App(req.App)
	if err == nil && run == nil {
		run, err = e.startBuild(app, BuildSource{Version: req.Commit}, req.User)
	}
	if err != nil {
		e.failBuild(run, err)
		return nil, err
	}
	out := teeBuild(req.Out, run)
	e.narrate(app.Name, StepPush, cmp.Or(shortCommit(req.Commit), "source"))
	out = e.narrating(app.Name, out)
	holder := "a build"
	if req.Commit != "" {
		holder = "the deploy of " + shortCommit(req.Commit)
	}
	unlock, err := e.lockFor(ctx, app.Name, holder, out)
	if err != nil {
		e.failBuild(run, err)
		return nil, err
	}
	req.BuildID = run.rec.ID
	d, err := e.stageDeploy(ctx, req, out)
	if err != nil {
		unlock()
		e.narrate(app.Name, StepFailed, ErrorMessage(err))
		e.failBuild(run, err)
		return nil, err
	}
	d.unlock, d.run = unlock, run
	return d, nil
}

// stageDeploy is StageDeploy once the app's lock is held.
func (e *Engine) stageDeploy(ctx context.Context, req DeployRequest, out io.Writer) (*StagedDeploy, error) {
	if req.Verify != nil {
		if err := req.Verify(); err != nil {
			return nil, err
		}
	}
	// Read after the lock: a change made while this deploy waited counts.
	app, err := e.App(req.App)
	if err != nil {
		return nil, err
	}
	cur, err := e.Store.Release(app.Name, app.CurrentRelease)
	if err != nil {
		return nil, fmt.Errorf("read current release of %s: %w", app.Name, err)
	}
	if req.SourceDir == "" {
		tmp, err := e.MkdirTemp("source")
		if err != nil {
			return nil, fmt.Errorf("prepare source of %s: %w", app.Name, err)
		}
		defer os.RemoveAll(tmp)
		req.SourceDir = filepath.Join(tmp, "src")
		if req.Source == nil {
			return nil, Errorf(EINVALID, "No source to build: push with git or upload a tar.gz.")
		}
		if err := e.Builder.ExtractSource(req.Source, req.SourceDir); err != nil {
			return nil, err
		}
	}
	if r, ok := e.Supervisor.(Refuser); ok {
		// Refused before the build rather than at its first step.
		if err := r.Refusal(); err != nil {
			return nil, err
		}
	}
	buildStart := time.Now()
	bctx, buildDone := e.buildDeadline(ctx, out)
	res, err := e.Builder.Build(bctx, BuildRequest{
		App:        app.Name,
		SourceDir:  req.SourceDir,
		CacheDir:   e.Paths.AppCache(app.Name),
		Commit:     req.Commit,
		Config:     cur.Config,
		Buildpacks: app.Buildpacks,
		Out:        out,
		UID:        app.UID,
		GID:        app.UID,
	})
	if err = buildDone(err); err != nil {
		return nil, err
	}
	times := pushTimes{started: req.Started, built: time.Now(), slug: res.SlugTime}
	times.receive = buildStart.Sub(req.Started)
	times.build = times.built.Sub(buildStart) - res.SlugTime
	if err := ValidateProcessTypes(res.ProcessTypes); err != nil {
		e.dropUnrecorded(res.SlugID)
		fmt.Fprintf(out, " !     Push rejected: %s\n", ErrorMessage(err))
		return nil, Errorf(EBUILD, "%s", ErrorMessage(err))
	}
	slug := &Slug{
		ID: res.SlugID, App: app.Name, Size: res.Size, Checksum: "SHA256:" + res.SlugID,
		Commit: req.Commit, Buildpack: res.Buildpack, ProcessTypes: res.ProcessTypes,
		Stack: Stack, CreatedAt: time.Now().UTC(),
	}
	if res.AppJSON != nil {
		slug.AppJSON = res.AppJSON.Raw
	}
	e.narrate(app.Name, StepSlug, fmt.Sprintf("%d %s", slug.Size, slug.ID))
	if err := e.checkCron(res.AppJSON); err != nil {
		e.dropUnrecorded(res.SlugID)
		fmt.Fprintf(out, " !     %s\n", ErrorMessage(err))
		return nil, Errorf(EBUILD, "%s", ErrorMessage(err))
	}
	cfg, err := e.setUp(ctx, app, cur, res.AppJSON, req.User, out)
	if err != nil {
		e.dropUnrecorded(res.SlugID)
		return nil, err
	}
	fmt.Fprintf(out, "-----> Launching...\n")
	rel := &Release{
		App: app.Name, Description: strings.TrimSpace("Deploy " + shortCommit(req.Commit)), User: req.User,
		CreatedAt: time.Now().UTC(), SlugID: slug.ID, Config: cfg, BuildID: req.BuildID,
	}
	st, err := e.stage(ctx, app, rel, slug, slug, out)
	if err != nil {
		return nil, err
	}
	return &StagedDeploy{e: e, st: st, Version: st.rel.Version, Commit: req.Commit, first: firstDeploy(cur), user: req.User, times: times}, nil
}

// StagedDeploy is a built release whose dynos are up but that does not
// serve yet, holding its app's lock until Release or Abort.
type StagedDeploy struct {
	// Version and Commit are the staged release's.
	Version int
	Commit  string

	e      *Engine
	st     *staged
	unlock func()
	once   sync.Once
	// run is the build's record and output, ended by Release or Abort.
	run *buildRun
	// first is whether this is the app's first deploy (app.json's
	// postdeploy runs after it); user is who deploys.
	first bool
	user  string
	times pushTimes
}

// pushTimes are where a deploy's time went, printed at its end: receive
// (from the push's start to the build: git, the checkout, the lock),
// build, slug (packing it) and launch (from the slug to the release
// serving: add-ons, release phase, dynos up, the switch).
type pushTimes struct {
	started, built       time.Time
	receive, build, slug time.Duration
}

// line is the timing line, in seconds.
func (t pushTimes) line(now time.Time) string {
	s := func(d time.Duration) float64 { return max(d, 0).Seconds() }
	return fmt.Sprintf("-----> Done in %.2f s (receive %.2f, build %.2f, slug %.2f, launch %.2f)",
		s(now.Sub(t.started)), s(t.receive), s(t.build), s(t.slug), s(now.Sub(t.built)))
}

// Release makes the staged release current, switches the router to its
// dynos, stops the old ones and says "Released vN" on out. It releases
// the app's lock. After Abort it does nothing and returns an error.
func (d *StagedDeploy) Release(out io.Writer) (*Release, error) {
	var err error = Errorf(ECONFLICT, "Release v%d was abandoned already.", d.Version)
	var rel *Release
	d.once.Do(func() {
		defer d.unlock()
		out = teeBuild(out, d.run)
		if rel, err = d.e.goLive(d.st); err != nil {
			d.e.narrate(d.st.app, StepFailed, ErrorMessage(err))
			d.e.failBuild(d.run, err)
			return
		}
		defer d.e.endBuild(d.run, rel, "")
		fmt.Fprintf(out, "       Released v%d\n", rel.Version)
		if err := d.e.declareJobs(d.st.app, slugAppJSON(d.st.slug)); err != nil {
			d.e.logf("%s: app.json's cron jobs: %v", d.st.app, err)
		}
		d.e.afterDeploy(d.st.app, d.st.slug, d.first, d.user, out)
		if d.e.AppURL != nil {
			fmt.Fprintf(out, "       %s deployed to hako\n", d.e.AppURL(d.st.app))
		}
		fmt.Fprintln(out, d.times.line(time.Now()))
	})
	return rel, err
}

// Abort marks the staged release failed, stops its dynos and releases the
// app's lock; the current release never stopped serving. why goes to the
// app's log. After Release it does nothing.
func (d *StagedDeploy) Abort(why string) {
	d.once.Do(func() {
		defer d.unlock()
		d.e.abandon(d.st, why)
		d.e.narrate(d.st.app, StepFailed, why)
		d.e.endBuild(d.run, nil, fmt.Sprintf(" !     Release v%d abandoned: %s.", d.Version, why))
	})
}

// restoresAtOnce is how many apps Restore brings up at a time: an app's
// start waits on the kernel and on its dynos binding their ports more
// than it computes, so 20 apps one after the other took 20 times that
// wait (3.3 s to serve them all, against 0.14 s for the ports).
const restoresAtOnce = 8

// Restore starts every app's formation on its current release, for a
// server start, several apps at a time (restoresAtOnce). Failures are
// logged per app; one broken app does not keep the others down.
func (e *Engine) Restore(ctx context.Context) error {
	apps, err := e.Store.Apps()
	if err != nil {
		return err
	}
	for _, a := range apps {
		e.Routes.SetBackends(a.Name, nil)
		e.Routes.SetDomains(a.Name, a.Domains)
		e.Routes.SetMaintenance(a.Name, a.Maintenance)
		e.setDrains(a)
	}
	var (
		mu   sync.Mutex
		errs error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, restoresAtOnce)
	for _, a := range apps {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := e.restoreApp(ctx, a.Name); err != nil {
				mu.Lock()
				errs = errors.Join(errs, fmt.Errorf("restore %s: %w", a.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

// restoreApp runs the app's formation on its current release again, for
// a server start, once deploys a kill interrupted are settled. (Restart,
// exported, is `ps:restart`: it replaces dynos that run.)
func (e *Engine) restoreApp(ctx context.Context, name string) error {
	defer e.lock(name)()
	if err := e.reconcile(name); err != nil {
		return err
	}
	return e.startCurrent(ctx, name)
}

// startCurrent starts the formation's dynos on the current release, in
// place of any running; the caller holds the app's lock.
func (e *Engine) startCurrent(ctx context.Context, name string) error {
	app, rel, slug, err := e.current(name)
	if err != nil || slug == nil {
		return err
	}
	specs, done, err := e.specs(name, rel, slug, app.Formation)
	if err != nil {
		return err
	}
	defer done()
	// Nothing else serves at a start: keep what started even if a web
	// dyno is slow or crashing; the supervisor restarts it.
	started, err := e.startAll(ctx, specs)
	e.replaceRunning(name, started, func(*instance) bool { return true })
	return err
}

func shortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}
