package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// AppRenamer is a Store that can rename an app, moving everything
// recorded under its name in one transaction. Returns ENOTFOUND or
// ECONFLICT.
type AppRenamer interface {
	RenameApp(old, new string) (*App, error)
}

// RenameApp gives an app a new name, as `heroku apps:rename` does: its
// record, releases, slugs, add-on attachments, scheduler jobs, pipeline
// coupling, repository and build cache move to the new name, and its
// dynos start again under it (APP.DOMAIN changes with the name). While a
// one-off dyno runs the app is not renamed. Returns EINVALID, ENOTFOUND or
// ECONFLICT; on any of them nothing has changed.
func (e *Engine) RenameApp(ctx context.Context, oldName, newName, user string) (*App, error) {
	if err := validateNewAppName(newName); err != nil {
		return nil, err
	}
	app, err := e.App(oldName)
	if err != nil {
		return nil, err
	}
	if newName == oldName {
		return app, nil
	}
	r, ok := e.Store.(AppRenamer)
	if !ok {
		return nil, Errorf(EINVALID, "This server's store cannot rename apps.")
	}
	if _, err := e.Store.App(newName); err == nil {
		return nil, Errorf(ECONFLICT, "Name %s is already taken", newName)
	}
	defer e.lock(oldName)()
	defer e.lock(newName)()
	e.mu.Lock()
	runs := len(e.oneoffs[oldName])
	e.mu.Unlock()
	if runs > 0 {
		return nil, Errorf(EINVALID, "%s has %d one-off dyno(s) running: rename it once they are done.", oldName, runs)
	}
	// The old name stops serving before the records move, so that no
	// dyno of the old name outlives it.
	e.Routes.RemoveApp(oldName)
	e.Drains.SetDrains(oldName, nil)
	e.stopDynos(e.takeRunning(oldName))
	renamed, err := r.RenameApp(oldName, newName)
	if err != nil {
		e.serve(ctx, app)
		return nil, err
	}
	var errs error
	for _, move := range [][2]string{
		{e.Paths.AppRepo(oldName), e.Paths.AppRepo(newName)},
		{e.Paths.AppCache(oldName), e.Paths.AppCache(newName)},
	} {
		if move[0] == "" {
			continue
		}
		if err := os.Rename(move[0], move[1]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = errors.Join(errs, err)
		}
	}
	// The unpacked slugs are made again under the new name.
	if dir := e.Paths.AppRun(oldName); dir != "" {
		errs = errors.Join(errs, os.RemoveAll(dir))
	}
	e.forgetLogs(oldName)
	e.forgetLogs(newName)
	e.log(newName, "api", "Rename from %s to %s by user %s", oldName, newName, user)
	e.scheduler().Changed()
	e.serve(ctx, renamed)
	if errs != nil {
		return renamed, fmt.Errorf("rename %s to %s: move its files: %w", oldName, newName, errs)
	}
	return renamed, nil
}

// serve routes an app as its record says and starts its dynos; the
// caller holds the app's lock.
func (e *Engine) serve(ctx context.Context, a *App) {
	e.Routes.SetBackends(a.Name, nil)
	e.Routes.SetDomains(a.Name, a.Domains)
	e.Routes.SetMaintenance(a.Name, a.Maintenance)
	e.setDrains(a)
	if err := e.startCurrent(ctx, a.Name); err != nil {
		e.logf("start %s: %v", a.Name, err)
	}
}
