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
// redis:credentials --reset).
type CredentialRotator interface {
	// RotateCredentials replaces the add-on's password, ends what was
	// connected with the old one, and returns the URL with the new one.
	// A provider that keeps the password in the add-on's record returns
	// the record to keep instead (nil: the record is unchanged), so that
	// its servers come back with the new password after a restart.
	RotateCredentials(ctx context.Context, resource map[string]string) (url string, record map[string]string, err error)
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
func (e *Engine) rotate(ctx context.Context, app *App, a *Addon, user string, out io.Writer) (*Rotation, error) {
	r, err := e.rotator(a)
	if err != nil {
		return nil, err
	}
	// Lock every app the add-on is attached to; attaching it elsewhere
	// meanwhile widens the set, so read again until it holds still.
	for {
		unlock := e.lockApps(attachedApps(a)...)
		b, err := e.FindAddon(a.ID)
		if err == nil && !slices.Contains(attachedApps(b), app.Name) {
			err = Errorf(ENOTFOUND, "%s was detached from %s meanwhile.", a.Name, app.Name)
		}
		if err != nil {
			unlock()
			return nil, err
		}
		if slices.Equal(attachedApps(b), attachedApps(a)) {
			a = b
			defer unlock()
			break
		}
		unlock()
		a = b
	}
	res := maps.Clone(a.Resource)
	if res == nil {
		res = map[string]string{}
	}
	res["plan"] = a.Plan // as StartAddons gives it
	url, record, err := r.RotateCredentials(ctx, res)
	if err != nil {
		return nil, err
	}
	if record != nil {
		// Recorded before any app gets the URL: a server restarted from
		// here on uses the password the apps are about to get.
		if _, err := e.Store.UpdateApp(a.App, func(owner *App) error {
			for i := range owner.Addons {
				if owner.Addons[i].ID == a.ID {
					owner.Addons[i].Resource = record
					return nil
				}
			}
			return Errorf(ENOTFOUND, "%s was destroyed meanwhile.", a.Name)
		}); err != nil {
			return nil, fmt.Errorf("record the new credentials of %s: %w", a.Name, err)
		}
		a.Resource = record
	}
	// One release per app, setting the config var of each of its
	// attachments.
	vars := map[string]map[string]*string{}
	names := map[string][]string{}
	for _, at := range a.AllAttachments() {
		if vars[at.App] == nil {
			vars[at.App] = map[string]*string{}
		}
		vars[at.App][at.ConfigVar()] = &url
		names[at.App] = append(names[at.App], at.Name)
	}
	rot := &Rotation{Addon: *a}
	var errs error
	for _, target := range slices.Compact(slices.Sorted(slices.Values(attachedApps(a)))) {
		desc := fmt.Sprintf("Update %s by %s", strings.Join(names[target], ", "), a.Service)
		rel, err := e.configRelease(ctx, target, user, vars[target], desc, out)
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("update %s on %s: %w", a.Name, target, err))
			continue
		}
		rot.Releases = append(rot.Releases, *rel)
		e.log(target, "api", "Rotate the credentials of %s by user %s", a.Name, user)
	}
	return rot, errs
}
