package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Deploy builds a pushed commit and releases it: build, store the slug and
// the release in one transaction, start the new dynos, switch the router,
// stop the old dynos. A failed build stores nothing and leaves the current
// release serving. Returns EINVALID, ENOTFOUND or EBUILD.
func (e *Engine) Deploy(ctx context.Context, req DeployRequest) (*Release, error) {
	app, err := e.App(req.App)
	if err != nil {
		return nil, err
	}
	defer e.lock(app.Name)()
	out := req.Out
	if out == nil {
		out = io.Discard
	}
	cur, err := e.Store.Release(app.Name, app.CurrentRelease)
	if err != nil {
		return nil, fmt.Errorf("read current release of %s: %w", app.Name, err)
	}
	res, err := e.Builder.Build(ctx, BuildRequest{
		App:       app.Name,
		SourceDir: req.SourceDir,
		CacheDir:  filepath.Join(e.Paths.Cache, app.Name),
		Config:    cur.Config,
		Out:       out,
	})
	if err != nil {
		return nil, err
	}
	slug := &Slug{
		ID: res.SlugID, App: app.Name, Size: res.Size, Checksum: "SHA256:" + res.SlugID,
		Commit: req.Commit, Buildpack: res.Buildpack, ProcessTypes: res.ProcessTypes,
		Stack: Stack, CreatedAt: time.Now().UTC(),
	}
	fmt.Fprintf(out, "-----> Launching...\n")
	rel := &Release{
		App: app.Name, Description: "Deploy " + shortCommit(req.Commit), User: req.User,
		CreatedAt: time.Now().UTC(), SlugID: slug.ID, Config: cur.Config, Status: ReleaseSucceeded,
	}
	rel, err = e.Store.CreateRelease(rel, slug)
	if err != nil {
		// The slug file is not referenced by any release: remove it so a
		// failed deploy leaves nothing behind.
		_ = e.Builder.RemoveSlug(slug.ID)
		return nil, err
	}
	e.log(app.Name, "api", "Deploy %s by user %s", shortCommit(req.Commit), req.User)
	e.log(app.Name, "api", "Release v%d created by user %s", rel.Version, req.User)

	formation := app.Formation
	if len(formation) == 0 {
		// The first deploy scales web to 1 if the app has a web type, as
		// Heroku does; other types start at 0.
		formation = map[string]int{}
		for t := range res.ProcessTypes {
			formation[t] = 0
		}
		if _, ok := res.ProcessTypes["web"]; ok {
			formation["web"] = 1
		}
		if err := e.Store.SetFormation(app.Name, formation); err != nil {
			return nil, err
		}
	}
	if err := e.run(ctx, app.Name, rel, slug, formation); err != nil {
		fmt.Fprintf(out, " !     Released v%d, but its dynos did not start: %s\n", rel.Version, ErrorMessage(err))
		return rel, nil
	}
	fmt.Fprintf(out, "       Released v%d\n", rel.Version)
	if e.AppURL != nil {
		fmt.Fprintf(out, "       %s deployed to hako\n", e.AppURL(app.Name))
	}
	return rel, nil
}

// run moves an app onto release rel: unpack its slug once, start the
// formation's dynos, wait for the web ones, switch the router, then stop
// the dynos of the previous release.
func (e *Engine) run(ctx context.Context, app string, rel *Release, slug *Slug, formation map[string]int) error {
	dir, err := e.unpack(app, rel.Version, slug.ID)
	if err != nil {
		return err
	}
	env := map[string]string{}
	for k, v := range rel.Config {
		env[k] = v
	}
	env["HEROKU_APP_NAME"] = app
	env["HEROKU_RELEASE_VERSION"] = "v" + strconv.Itoa(rel.Version)
	env["HEROKU_SLUG_COMMIT"] = slug.Commit

	var started []Dyno
	var startErr error
	for _, t := range ProcessTypeNames(slug.ProcessTypes) {
		for i := 1; i <= formation[t]; i++ {
			d, err := e.Supervisor.Start(DynoSpec{
				App: app, Type: t, Name: fmt.Sprintf("%s.%d", t, i), Release: rel.Version,
				Command: slug.ProcessTypes[t], Dir: dir, Env: env,
			})
			if err != nil {
				startErr = errors.Join(startErr, fmt.Errorf("start %s.%d: %w", t, i, err))
				continue
			}
			started = append(started, d)
		}
	}
	wait := e.WaitUp
	if wait == 0 {
		wait = 60 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var web []Backend
	for _, d := range started {
		if d.Status().Type != "web" {
			continue
		}
		if err := d.WaitUp(wctx); err != nil && startErr == nil {
			startErr = Errorf(EINTERNAL, "%s did not come up: %v (hako logs -a %s shows why)", d.Status().Name, err, app)
		}
		web = append(web, d)
	}
	old := e.swapRunning(app, started)
	if e.Routes != nil {
		e.Routes.SetBackends(app, web)
	}
	e.stopDynos(old)
	return startErr
}

// unpack extracts a release's slug once into Run/APP/vN and returns the
// directory; a half-extracted tree never takes the final name.
func (e *Engine) unpack(app string, version int, slugID string) (string, error) {
	dir := filepath.Join(e.Paths.Run, app, "v"+strconv.Itoa(version))
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("prepare run directory of %s: %w", app, err)
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := e.Builder.Unpack(slugID, tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("unpack slug of %s v%d: %w", app, version, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("unpack slug of %s v%d: %w", app, version, err)
	}
	return dir, nil
}

// Restore starts every app's formation on its current release, for a
// server start. Failures are logged per app; one broken app does not keep
// the others down.
func (e *Engine) Restore(ctx context.Context) error {
	apps, err := e.Store.Apps()
	if err != nil {
		return err
	}
	var errs error
	for _, a := range apps {
		if e.Routes != nil {
			e.Routes.SetBackends(a.Name, nil)
		}
		if err := e.restart(ctx, a.Name); err != nil {
			errs = errors.Join(errs, fmt.Errorf("restore %s: %w", a.Name, err))
		}
	}
	return errs
}

// restart runs the app's formation on its current release again.
func (e *Engine) restart(ctx context.Context, name string) error {
	defer e.lock(name)()
	app, err := e.Store.App(name)
	if err != nil {
		return err
	}
	rel, err := e.Store.Release(name, app.CurrentRelease)
	if err != nil {
		return err
	}
	if rel.SlugID == "" {
		return nil
	}
	slug, err := e.Store.Slug(rel.SlugID)
	if err != nil {
		return err
	}
	return e.run(ctx, name, rel, slug, app.Formation)
}

func (e *Engine) swapRunning(app string, ds []Dyno) []Dyno {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running == nil {
		e.running = map[string][]Dyno{}
	}
	old := e.running[app]
	e.running[app] = ds
	return old
}

func (e *Engine) takeRunning(app string) []Dyno {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.running[app]
	delete(e.running, app)
	return old
}

// Dynos returns the status of the app's running dynos.
func (e *Engine) Dynos(app string) []DynoStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st []DynoStatus
	for _, d := range e.running[app] {
		st = append(st, d.Status())
	}
	return st
}

// stopDynos stops dynos in parallel, so a grace period is waited once.
func (e *Engine) stopDynos(ds []Dyno) {
	done := make(chan struct{}, len(ds))
	for _, d := range ds {
		go func(d Dyno) {
			_ = d.Stop()
			done <- struct{}{}
		}(d)
	}
	for range ds {
		<-done
	}
}

func shortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}
