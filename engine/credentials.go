package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// CredentialRotator is an AddonProvider that can give an add-on new
// credentials (heroku-postgresql's pg:credentials:rotate, heroku-redis's
// redis:credentials --reset), in two steps so that the engine records
// the new credentials before any server takes them: a rotation a
// failure or a crash cuts is then finished or undone, never lost.
type CredentialRotator interface {
	// NewCredentials picks new credentials for the add-on whose record
	// is resource, changing nothing: the URL that carries them, and
	// the add-on's record that holds them (nil: the record does not
	// change, the server keeps them itself).
	NewCredentials(ctx context.Context, resource map[string]string) (url string, record map[string]string, err error)
	// SetCredentials makes the server of the add-on, which runs with
	// the record from, take the credentials of url and to (as
	// NewCredentials gave them, or the add-on's before), and ends what
	// was connected with others. On failure the server keeps the
	// credentials it had. Setting credentials the server has already
	// leaves it running.
	SetCredentials(ctx context.Context, from map[string]string, url string, to map[string]string) error
}

// PendingCredentials are new credentials of an add-on on their way to
// its server and its apps, kept on the add-on's record meanwhile: a
// server start finishes the rotation (see FinishRotations).
type PendingCredentials struct {
	URL string `json:"url"`
	// Resource is the add-on's record with them; nil: unchanged.
	Resource map[string]string `json:"resource,omitempty"`
	// User asked for the rotation; the releases are theirs.
	User string `json:"user"`
}

// Rotation is what RotateCredentials did: the add-on, and the release it
// made on each app the add-on is attached to.
type Rotation struct {
	Addon    Addon
	Releases []Release
}

// RotateCredentials gives a PostgreSQL add-on (named through an app it
// is attached to, see pgDatabase) a new password, as Heroku's
// pg:credentials:rotate, if confirm names that app. Credentials are the
// add-on's, so every app it is attached to gets the new URL, each in a
// release ("Update DATABASE by heroku-postgresql") that restarts its
// dynos; an app detached before keeps a URL that no longer works. A
// release that fails on one app does not keep the others from theirs,
// and running the rotation again mends it. Returns ENOTFOUND, EFORBIDDEN
// or EINVALID; a refusal changes nothing.
func (e *Engine) RotateCredentials(ctx context.Context, name, which, confirm, user string, out io.Writer) (*Rotation, error) {
	app, a, err := e.pgDatabase(name, which, user)
	if err != nil {
		return nil, err
	}
	if _, err := e.rotator(a); err != nil {
		return nil, err
	}
	if confirm != app.Name {
		return nil, Errorf(EINVALID, "This rotates the credentials of %s and restarts every app it is attached to (%s), whose connections end. To proceed, re-run this command with --confirm %s",
			a.Name, strings.Join(slices.Compact(slices.Sorted(slices.Values(attachedApps(a)))), ", "), app.Name)
	}
	return e.rotate(ctx, app, a, user, out)
}

// rotator is the provider of a that rotates credentials. Returns EINVALID.
func (e *Engine) rotator(a *Addon) (CredentialRotator, error) {
	r, ok := e.AddonProviders[a.Service].(CredentialRotator)
	if !ok {
		return nil, Errorf(EINVALID, "This server cannot rotate the credentials of %s.", a.Service)
	}
	return r, nil
}

// rotate gives a, found through app, new credentials and every app it is
// attached to the new URL, one release each (see RotateCredentials); the
// caller has resolved a and checked the user may act through app.
// Returns ENOTFOUND or EINVALID; a refusal changes nothing.
//
// The steps, so that the add-on's server and its apps agree whatever
// fails and wherever the server stops:
//
//  1. the new credentials are recorded on the add-on as pending: a
//     failure here changes nothing;
//  2. the add-on's server takes them: on failure it keeps the old ones
//     and the pending ones are dropped;
//  3. each app gets the new URL in a release: if none gets it, the
//     server goes back to the old credentials and the pending ones are
//     dropped; if some do, the rest are left to the next attempt;
//  4. the add-on's record takes the new credentials, which are no
//     longer pending.
//
// Credentials left pending (a stop between two steps, a failure of a
// later step, a failed undo) are finished at the next server start
// (FinishRotations): the server takes them again and every app that
// does not hold the URL gets it.
func (e *Engine) rotate(ctx context.Context, app *App, a *Addon, user string, out io.Writer) (*Rotation, error) {
	r, err := e.rotator(a)
	if err != nil {
		return nil, err
	}
	unlock, a, err := e.lockAttached(a, app.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	url, record, err := r.NewCredentials(ctx, addonResource(a))
	if err != nil {
		return nil, err
	}
	prev := a.PendingCredentials
	next := &PendingCredentials{URL: url, Resource: record, User: user}
	if err := e.setPending(a, next); err != nil {
		return nil, fmt.Errorf("record the new credentials of %s: %w", a.Name, err)
	}
	if err := r.SetCredentials(ctx, addonResource(a), url, record); err != nil {
		// The server keeps the credentials it had: so does the record.
		if perr := e.setPending(a, prev); perr != nil {
			e.logf("rotate the credentials of %s: %v; the next start finishes the rotation", a.Name, perr)
		}
		return nil, err
	}
	return e.finishRotation(ctx, r, a, next, prev == nil, out)
}

// lockAttached locks every app a is attached to and returns a read
// again under the locks, which must still be attached to via;
// attaching it elsewhere meanwhile widens the set, so it reads again
// until the set holds still. Returns ENOTFOUND.
func (e *Engine) lockAttached(a *Addon, via string) (func(), *Addon, error) {
	for {
		unlock := e.lockApps(attachedApps(a)...)
		b, err := e.FindAddon(a.ID)
		if err == nil && via != "" && !slices.Contains(attachedApps(b), via) {
			err = Errorf(ENOTFOUND, "%s was detached from %s meanwhile.", a.Name, via)
		}
		if err != nil {
			unlock()
			return nil, nil, err
		}
		if slices.Equal(attachedApps(b), attachedApps(a)) {
			return unlock, b, nil
		}
		unlock()
		a = b
	}
}

// addonResource is a's record as its provider gets it (see StartAddons).
func addonResource(a *Addon) map[string]string {
	res := maps.Clone(a.Resource)
	if res == nil {
		res = map[string]string{}
	}
	res["plan"] = a.Plan
	return res
}

// setPending records p (nil: none) as a's pending credentials, and
// keeps it in a.
func (e *Engine) setPending(a *Addon, p *PendingCredentials) error {
	_, err := e.Store.UpdateApp(a.App, func(owner *App) error {
		for i := range owner.Addons {
			if owner.Addons[i].ID == a.ID {
				owner.Addons[i].PendingCredentials = p
				return nil
			}
		}
		return Errorf(ENOTFOUND, "%s was destroyed meanwhile.", a.Name)
	})
	if err == nil {
		a.PendingCredentials = p
	}
	return err
}

// finishRotation gives every app a is attached to the URL of p, which
// a's server has taken, in a release each, unless it holds it already;
// then records p's resource as a's (steps 3 and 4 of rotate). undo says
// the server may go back to a's record when no app could get the URL.
// The caller holds the apps' locks.
func (e *Engine) finishRotation(ctx context.Context, r CredentialRotator, a *Addon, p *PendingCredentials, undo bool, out io.Writer) (*Rotation, error) {
	// One release per app, setting the config var of each of its
	// attachments.
	vars := map[string]map[string]*string{}
	names := map[string][]string{}
	for _, at := range a.AllAttachments() {
		if vars[at.App] == nil {
			vars[at.App] = map[string]*string{}
		}
		vars[at.App][at.ConfigVar()] = &p.URL
		names[at.App] = append(names[at.App], at.Name)
	}
	rot := &Rotation{Addon: *a}
	old := "" // the URL the apps held, for an undo
	holding := 0
	var todo []string
	var errs error
	for _, target := range slices.Compact(slices.Sorted(slices.Values(attachedApps(a)))) {
		cfg, err := e.Config(target)
		if err != nil {
			todo = append(todo, target)
			continue
		}
		held := true
		for v := range vars[target] {
			held = held && cfg[v] == p.URL
			if cfg[v] != "" && cfg[v] != p.URL && old == "" {
				old = cfg[v]
			}
		}
		if held {
			holding++
			continue
		}
		todo = append(todo, target)
	}
	// A release that failed is tried once more, after the others: a
	// passing failure must not leave an app apart from the server.
	for try := 0; try < 2 && len(todo) > 0; try++ {
		var failed []string
		errs = nil
		for _, target := range todo {
			desc := fmt.Sprintf("Update %s by %s", strings.Join(names[target], ", "), a.Service)
			rel, err := e.configRelease(ctx, target, p.User, vars[target], desc, out)
			if err != nil {
				failed = append(failed, target)
				errs = errors.Join(errs, fmt.Errorf("update %s on %s: %w", a.Name, target, err))
				continue
			}
			holding++
			rot.Releases = append(rot.Releases, *rel)
			e.log(target, "api", "Rotate the credentials of %s by user %s", a.Name, p.User)
		}
		todo = failed
	}
	if errs != nil {
		if holding > 0 || !undo {
			return rot, fmt.Errorf("%w; the next start of the server gives the new URL to the apps without it", errs)
		}
		// No app has the new URL: the server goes back to the old
		// credentials, and the rotation is called off.
		to := a.Resource
		if to == nil {
			to = map[string]string{}
		}
		if p.Resource == nil {
			to = nil
		}
		from := addonResource(a)
		if p.Resource != nil {
			from = maps.Clone(p.Resource)
			from["plan"] = a.Plan
		}
		if uerr := r.SetCredentials(context.WithoutCancel(ctx), from, old, to); uerr != nil {
			return rot, fmt.Errorf("%w; going back to the old credentials: %v; the next start of the server finishes the rotation", errs, uerr)
		}
		if perr := e.setPending(a, nil); perr != nil {
			// Left pending, the next start finishes the rotation: the
			// server and the apps agree now, and will then.
			e.logf("call off the rotation of the credentials of %s: %v", a.Name, perr)
		}
		return rot, errs
	}
	if _, err := e.Store.UpdateApp(a.App, func(owner *App) error {
		for i := range owner.Addons {
			if owner.Addons[i].ID == a.ID {
				if p.Resource != nil {
					owner.Addons[i].Resource = p.Resource
				}
				owner.Addons[i].PendingCredentials = nil
				return nil
			}
		}
		return Errorf(ENOTFOUND, "%s was destroyed meanwhile.", a.Name)
	}); err != nil {
		// The server and every app agree; the next start records it.
		e.logf("record the new credentials of %s: %v; the next start records them", a.Name, err)
	} else if p.Resource != nil {
		a.Resource = p.Resource
	}
	a.PendingCredentials = nil
	rot.Addon = *a
	return rot, nil
}

// FinishRotations finishes, at a server start, the credential rotations
// a stop or a failure left pending (see rotate): each add-on's server
// takes its pending credentials again, every app it is attached to that
// does not hold the new URL gets it in a release, and the add-on's
// record takes them. Call it once the apps are restored (Restore), so
// that their releases come after those a stop left pending. A rotation
// that fails again stays pending, for the next start; one add-on's
// does not keep the others'.
func (e *Engine) FinishRotations(ctx context.Context) error {
	apps, err := e.Store.Apps()
	if err != nil {
		return err
	}
	var errs error
	for _, app := range apps {
		for _, a := range app.Addons {
			if a.PendingCredentials == nil {
				continue
			}
			if err := e.finishPending(ctx, &a); err != nil {
				errs = errors.Join(errs, fmt.Errorf("finish the rotation of the credentials of %s: %w", a.Name, err))
				continue
			}
			e.logf("start: the rotation of the credentials of %s, which the server's stop cut, is finished", a.Name)
		}
	}
	return errs
}

// finishPending finishes a's pending rotation (see FinishRotations).
func (e *Engine) finishPending(ctx context.Context, a *Addon) error {
	r, err := e.rotator(a)
	if err != nil {
		return err
	}
	unlock, a, err := e.lockAttached(a, "")
	if err != nil {
		return err
	}
	defer unlock()
	p := a.PendingCredentials
	if p == nil {
		return nil
	}
	if err := r.SetCredentials(ctx, addonResource(a), p.URL, p.Resource); err != nil {
		return err
	}
	_, err = e.finishRotation(ctx, r, a, p, false, io.Discard)
	return err
}
