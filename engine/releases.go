package engine

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Releases returns the app's releases, newest first. Returns ENOTFOUND.
func (e *Engine) Releases(name string) ([]*Release, error) {
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	return e.Store.Releases(name)
}

// Release returns one release; version 0 means the current one.
// Returns ENOTFOUND.
func (e *Engine) Release(name string, version int) (*Release, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, err
	}
	if version == 0 {
		version = app.CurrentRelease
	}
	rel, err := e.Store.Release(name, version)
	if engine404(err) {
		return nil, Errorf(ENOTFOUND, "Release v%d of %s not found: `hako releases -a %s` lists them.", version, name, name)
	}
	return rel, err
}

// Slug returns a slug's record. Returns ENOTFOUND.
func (e *Engine) Slug(id string) (*Slug, error) { return e.Store.Slug(id) }

func engine404(err error) bool { return ErrorCode(err) == ENOTFOUND }

// Rollback writes a new release "Rollback to vN" with that release's slug
// and config vars, and moves the app onto it. Version 0 means the release
// before the current one. Returns EINVALID or ENOTFOUND.
func (e *Engine) Rollback(ctx context.Context, name, user string, version int, out io.Writer) (*Release, error) {
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	defer e.lock(name)()
	return e.next(ctx, name, user, out, func(app *App, cur *Release) (*Release, error) {
		v := version
		if v == 0 {
			v = app.CurrentRelease - 1
		}
		if v < 1 {
			return nil, Errorf(EINVALID, "%s has no release before v%d to roll back to.", name, app.CurrentRelease)
		}
		target, err := e.Store.Release(name, v)
		if engine404(err) {
			return nil, Errorf(ENOTFOUND, "Release v%d of %s not found: `hako releases -a %s` lists them.", v, name, name)
		}
		if err != nil {
			return nil, err
		}
		if target.SlugID == "" {
			return nil, Errorf(EINVALID, "v%d of %s has no slug (nothing was deployed then), so there is nothing to roll back to.", v, name)
		}
		if target.Status == ReleaseFailed {
			return nil, Errorf(EINVALID, "v%d of %s failed its release phase; roll back to a release that succeeded.", v, name)
		}
		if _, err := e.Store.Slug(target.SlugID); engine404(err) {
			return nil, e.errSlugRemoved(name, v)
		} else if err != nil {
			return nil, err
		}
		return &Release{SlugID: target.SlugID, Config: target.Config, Description: fmt.Sprintf("Rollback to v%d", v)}, nil
	})
}

// next writes the release that make returns from the current one and
// moves the app onto it: the release phase first when the slug declares
// one (a failure marks the release failed and changes nothing else),
// then the formation's dynos. The caller holds the app's lock.
func (e *Engine) next(ctx context.Context, name, user string, out io.Writer, make func(app *App, cur *Release) (*Release, error)) (*Release, error) {
	if out == nil {
		out = io.Discard
	}
	app, err := e.Store.App(name)
	if err != nil {
		return nil, err
	}
	cur, err := e.Store.Release(name, app.CurrentRelease)
	if err != nil {
		return nil, fmt.Errorf("read current release of %s: %w", name, err)
	}
	rel, err := make(app, cur)
	if err != nil {
		return nil, err
	}
	rel.App, rel.User, rel.CreatedAt = name, user, time.Now().UTC()
	var slug *Slug
	if rel.SlugID != "" {
		if slug, err = e.Store.Slug(rel.SlugID); engine404(err) {
			return nil, Errorf(EINVALID, "That slug was removed: this server keeps the slugs of each app's last %d deploys and of its current release (--keep-slugs).", e.keepSlugs())
		} else if err != nil {
			return nil, fmt.Errorf("read slug of %s: %w", name, err)
		}
	}
	return e.commit(ctx, app, rel, slug, nil, out)
}

// commit records rel (and newSlug, when the release brings one) and makes
// it live: staged, then current (see stage). A release whose release
// phase fails or whose web dynos do not come up is marked failed and the
// current one keeps serving.
func (e *Engine) commit(ctx context.Context, app *App, rel *Release, slug, newSlug *Slug, out io.Writer) (*Release, error) {
	st, err := e.stage(ctx, app, rel, slug, newSlug, out)
	if err != nil {
		return nil, err
	}
	return e.goLive(st)
}

// initialFormation scales web to 1 on an app's first deploy if it has a
// web type, as Heroku does; other types start at 0.
func initialFormation(types map[string]string) map[string]int {
	f := map[string]int{}
	for _, t := range formationTypes(types) {
		f[t] = 0
	}
	if _, ok := types[WebType]; ok {
		f[WebType] = 1
	}
	return f
}
