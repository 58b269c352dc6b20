package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	if req.SourceDir == "" {
		tmp, err := os.MkdirTemp("", "hako-source-")
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
	res, err := e.Builder.Build(ctx, BuildRequest{
		App:        app.Name,
		SourceDir:  req.SourceDir,
		CacheDir:   filepath.Join(e.Paths.Cache, app.Name),
		Commit:     req.Commit,
		Config:     cur.Config,
		Buildpacks: app.Buildpacks,
		Out:        out,
		UID:        app.UID,
		GID:        app.UID,
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
		App: app.Name, Description: strings.TrimSpace("Deploy " + shortCommit(req.Commit)), User: req.User,
		CreatedAt: time.Now().UTC(), SlugID: slug.ID, Config: cur.Config,
	}
	rel, err = e.commit(ctx, app, rel, slug, slug, out)
	if err != nil {
		if ErrorCode(err) != EBUILD {
			// No release refers to the slug: remove its file so a failed
			// deploy leaves nothing behind.
			_ = e.Builder.RemoveSlug(slug.ID)
		}
		return nil, err
	}
	fmt.Fprintf(out, "       Released v%d\n", rel.Version)
	if e.AppURL != nil {
		fmt.Fprintf(out, "       %s deployed to hako\n", e.AppURL(app.Name))
	}
	return rel, nil
}

// run moves an app onto release rel: unpack its slug (once per slug), start the
// formation's dynos, wait for the web ones, switch the router, then stop
// the dynos of the previous release.
func (e *Engine) run(ctx context.Context, app string, rel *Release, slug *Slug, formation map[string]int) error {
	dir, done, err := e.unpack(app, slug.ID)
	if err != nil {
		return err
	}
	// Done once the new dynos are in the table: it collects the slugs
	// that no release needs any more.
	defer done()
	uid, gid, err := e.identity(app)
	if err != nil {
		return err
	}
	var specs []DynoSpec
	env := dynoEnv(app, rel, slug)
	for _, t := range ProcessTypeNames(slug.ProcessTypes) {
		for i := 1; i <= formation[t] && t != "release"; i++ {
			specs = append(specs, DynoSpec{
				App: app, Type: t, Name: fmt.Sprintf("%s.%d", t, i), Release: rel.Version,
				Command: slug.ProcessTypes[t], Dir: dir, Env: env, UID: uid, GID: gid,
			})
		}
	}
	started, err := e.startAll(ctx, specs)
	e.replaceRunning(app, started, func(*instance) bool { return true })
	return err
}

// startAll starts specs and waits (up to WaitUp) for the web ones to come
// up, so that a new release takes traffic only once it can answer.
func (e *Engine) startAll(ctx context.Context, specs []DynoSpec) ([]*instance, error) {
	if err := e.waitAddons(ctx); err != nil {
		return nil, err
	}
	var started []*instance
	var errs error
	for _, spec := range specs {
		d, err := e.Supervisor.Start(spec)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("start %s: %w", spec.Name, err))
			continue
		}
		started = append(started, &instance{spec: spec, Dyno: d})
	}
	wait := e.WaitUp
	if wait == 0 {
		wait = 60 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for _, in := range started {
		if in.spec.Type != "web" {
			continue
		}
		if err := in.WaitUp(wctx); err != nil && errs == nil {
			errs = Errorf(EINTERNAL, "%s did not come up: %v (hako logs -a %s shows why)", in.spec.Name, err, in.spec.App)
		}
	}
	return started, errs
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
			e.Routes.SetDomains(a.Name, a.Domains)
			e.Routes.SetMaintenance(a.Name, a.Maintenance)
		}
		e.setDrains(a)
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

func shortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}
