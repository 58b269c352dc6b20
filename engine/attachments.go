package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// AttachRequest is `addons:attach ADDON -a APP [--as NAME] [--confirm APP]`.
type AttachRequest struct {
	Addon string // the add-on's name or id, whichever app owns it
	App   string // the app to attach it to
	As    string // the attachment's name; "" picks HEROKU_POSTGRESQL_COLOR
	// Confirm, the app's name, lets the attachment take the name of one
	// the app has already, which it then replaces.
	Confirm string
	User    string
	Out     io.Writer
}

// allAttachments lists every attachment of every add-on, with the apps
// read, from one read of the store.
func (e *Engine) allAttachments() ([]AddonAttachment, []*App, error) {
	apps, err := e.Store.Apps()
	if err != nil {
		return nil, nil, err
	}
	var out []AddonAttachment
	for _, a := range apps {
		for _, ad := range a.Addons {
			for _, at := range ad.AllAttachments() {
				out = append(out, AddonAttachment{Attachment: at, Addon: ad})
			}
		}
	}
	return out, apps, nil
}

// AllAttachments lists every attachment of every app: the API shows each
// caller those of the apps they may see.
func (e *Engine) AllAttachments() ([]AddonAttachment, error) {
	all, _, err := e.allAttachments()
	return all, err
}

// Attachments lists the attachments on an app: its own add-ons' and
// those of other apps' add-ons attached to it. Returns ENOTFOUND.
func (e *Engine) Attachments(app string) ([]AddonAttachment, error) {
	a, err := e.App(app)
	if err != nil {
		return nil, err
	}
	return e.attachmentsOn(a.Name)
}

func (e *Engine) attachmentsOn(app string) ([]AddonAttachment, error) {
	all, _, err := e.allAttachments()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(at AddonAttachment) bool { return at.App != app }), nil
}

// Attachment finds an attachment on app by id or name. Returns ENOTFOUND.
func (e *Engine) Attachment(app, ref string) (*AddonAttachment, error) {
	list, err := e.Attachments(app)
	if err != nil {
		return nil, err
	}
	for _, at := range list {
		if at.ID == ref || at.Name == ref {
			return &at, nil
		}
	}
	return nil, Errorf(ENOTFOUND, "%s has no add-on attachment %s: `hako addons -a %s` lists them.", app, ref, app)
}

// AttachmentByID finds any app's attachment by id. Returns ENOTFOUND.
func (e *Engine) AttachmentByID(id string) (*AddonAttachment, error) {
	all, _, err := e.allAttachments()
	if err != nil {
		return nil, err
	}
	for _, at := range all {
		if at.ID == id {
			return &at, nil
		}
	}
	return nil, Errorf(ENOTFOUND, "Couldn't find that add-on attachment: %s.", id)
}

// FindAddon finds any app's add-on by id or name. Returns ENOTFOUND.
func (e *Engine) FindAddon(ref string) (*Addon, error) {
	apps, err := e.Store.Apps()
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		for _, ad := range a.Addons {
			if ad.ID == ref || ad.Name == ref {
				return &ad, nil
			}
		}
	}
	return nil, Errorf(ENOTFOUND, "Couldn't find that add-on: %s.", ref)
}

// lockApps takes the locks of several apps in name order, so that two
// operations spanning the same apps never hold one each and wait for
// the other's. It returns what releases them all.
func (e *Engine) lockApps(names ...string) func() {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	unlocks := make([]func(), 0, len(names))
	for _, n := range names {
		unlocks = append(unlocks, e.lock(n))
	}
	return func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
}

// AttachAddon attaches an existing add-on to an app, as Heroku's
// POST /addon-attachments: a new release of that app sets NAME_URL to the
// add-on's URL, "Attach NAME (heroku-postgresql)", and the app's dynos
// reach the add-on from then on. The caller checks that the user may act
// on both the add-on's app and the target: attaching shares the add-on's
// credentials. Returns EINVALID, ENOTFOUND, ECONFLICT, or ECONFIRM when
// the name is taken and Confirm does not name the app.
func (e *Engine) AttachAddon(ctx context.Context, req AttachRequest) (*AddonAttachment, error) {
	if req.As != "" && !attachmentRe.MatchString(req.As) {
		return nil, Errorf(EINVALID, "Attachment name %q is invalid: use capital letters, digits and underscores, such as DATABASE.", req.As)
	}
	ad, err := e.FindAddon(req.Addon)
	if err != nil {
		return nil, err
	}
	target, err := e.App(req.App)
	if err != nil {
		return nil, err
	}
	defer e.lockApps(ad.App, target.Name)()
	// Read again under the locks: the add-on may have gone meanwhile.
	if ad, err = e.FindAddon(ad.ID); err != nil {
		return nil, err
	}
	on, err := e.attachmentsOn(target.Name)
	if err != nil {
		return nil, err
	}
	name, replaced, err := attachName(target.Name, ad, on, req)
	if err != nil {
		return nil, err
	}
	cfg, err := e.Config(ad.App)
	if err != nil {
		return nil, err
	}
	url, ok := cfg[ad.ConfigVar()]
	if !ok {
		return nil, Errorf(EINVALID, "%s has no URL to share: its config var %s on %s was removed.", ad.Name, ad.ConfigVar(), ad.App)
	}
	at := Attachment{ID: newID(), App: target.Name, Name: name, Created: time.Now().UTC()}
	// Recorded before the release, as an add-on is, so that a crash in
	// between leaves an attachment that detaching removes, never a URL
	// no record accounts for.
	if err := e.updateAddon(ad.App, ad.ID, func(x *Addon) { x.Attachments = append(x.Attachments, at) }); err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("Attach %s (%s)", name, ad.Service)
	if _, err := e.configRelease(ctx, target.Name, req.User, map[string]*string{at.ConfigVar(): &url}, desc, req.Out); err != nil {
		return nil, errors.Join(err, e.dropAttachment(ad.App, ad.ID, at.ID))
	}
	if replaced != nil {
		if err := e.dropAttachment(replaced.Addon.App, replaced.Addon.ID, replaced.ID); err != nil {
			return nil, err
		}
	}
	e.log(target.Name, "api", "Attach %s (%s) by user %s", name, ad.Name, req.User)
	return &AddonAttachment{Attachment: at, Addon: *ad}, nil
}

// attachName picks the name of a new attachment of ad to app, whose
// attachments are on: the one asked for or the first free colored one
// (HEROKU_POSTGRESQL_PINK), and the attachment it replaces, if any.
func attachName(app string, ad *Addon, on []AddonAttachment, req AttachRequest) (string, *AddonAttachment, error) {
	byName := func(n string) *AddonAttachment {
		for i := range on {
			if on[i].Name == n {
				return &on[i]
			}
		}
		return nil
	}
	if req.As == "" {
		base := "HEROKU_" + strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(ad.Service, "heroku-"), "-", "_"))
		for _, c := range colors {
			if n := base + "_" + c; byName(n) == nil {
				return n, nil, nil
			}
		}
		return "", nil, Errorf(EINVALID, "%s has too many %s attachments: name this one with --as.", app, ad.Service)
	}
	old := byName(req.As)
	switch {
	case old == nil:
		return req.As, nil, nil
	case old.Owned():
		return "", nil, Errorf(ECONFLICT, "%s is the attachment of %s's own add-on %s, which only destroying it removes: choose another name with --as.", req.As, app, old.Addon.Name)
	case old.Addon.ID == ad.ID:
		return "", nil, Errorf(ECONFLICT, "%s is attached to %s as %s already.", ad.Name, app, req.As)
	case req.Confirm != app:
		return "", nil, Errorf(ECONFIRM, "%s already has an add-on attached as %s (%s). To replace it with %s, re-run with --confirm %s.", app, req.As, old.Addon.Name, ad.Name, app)
	}
	return req.As, old, nil
}

// DetachAddon removes one attachment (by id), as Heroku's
// DELETE /addon-attachments/{id}: a new release of its app unsets its
// config var, "Detach NAME (heroku-postgresql)". An add-on's own
// attachment stays: only destroying the add-on removes it, so that no
// add-on is left without the app that owns it. The caller checks that
// the user may act on the attachment's app. Returns ENOTFOUND or
// ECONFLICT.
func (e *Engine) DetachAddon(ctx context.Context, id, user string, out io.Writer) (*AddonAttachment, error) {
	at, err := e.AttachmentByID(id)
	if err != nil {
		return nil, err
	}
	if at.Owned() {
		return nil, Errorf(ECONFLICT, "%s is %s's own attachment to %s, which it keeps as long as it exists: `hako addons:destroy %s -a %s` removes the add-on and every attachment.", at.Name, at.Addon.Name, at.App, at.Addon.Name, at.App)
	}
	defer e.lockApps(at.Addon.App, at.App)()
	if at, err = e.AttachmentByID(id); err != nil {
		return nil, err
	}
	// Forgotten before the release, so that the release's new dynos
	// (which ask, as they start, which add-ons their app may reach) no
	// longer reach the add-on; put back if the release fails. A crash in
	// between leaves a config var no attachment accounts for, which
	// reaches nothing and `config:unset` removes.
	if err := e.dropAttachment(at.Addon.App, at.Addon.ID, at.ID); err != nil {
		return nil, err
	}
	if err := e.unsetAttachment(ctx, *at, user, out); err != nil {
		restore := e.updateAddon(at.Addon.App, at.Addon.ID, func(x *Addon) { x.Attachments = append(x.Attachments, at.Attachment) })
		return nil, errors.Join(err, restore)
	}
	e.narrowReach(at.App)
	e.log(at.App, "api", "Detach %s (%s) by user %s", at.Name, at.Addon.Name, user)
	return at, nil
}

// unsetAttachment unsets an attachment's config var in a new release of
// its app, if it is still set.
func (e *Engine) unsetAttachment(ctx context.Context, at AddonAttachment, user string, out io.Writer) error {
	cfg, err := e.Config(at.App)
	if err != nil {
		return err
	}
	if _, set := cfg[at.ConfigVar()]; !set {
		return nil
	}
	desc := fmt.Sprintf("Detach %s (%s)", at.Name, at.Addon.Service)
	_, err = e.configRelease(ctx, at.App, user, map[string]*string{at.ConfigVar(): nil}, desc, out)
	return err
}

// updateAddon applies fn to the add-on id of app in one transaction.
// Returns ENOTFOUND when it is gone.
func (e *Engine) updateAddon(app, id string, fn func(*Addon)) error {
	_, err := e.Store.UpdateApp(app, func(x *App) error {
		i := slices.IndexFunc(x.Addons, func(a Addon) bool { return a.ID == id })
		if i < 0 {
			return Errorf(ENOTFOUND, "Couldn't find that add-on: it was destroyed meanwhile.")
		}
		fn(&x.Addons[i])
		return nil
	})
	return err
}

// dropAttachment forgets one attachment of the add-on id of app.
func (e *Engine) dropAttachment(app, addon, id string) error {
	return e.updateAddon(app, addon, func(a *Addon) {
		a.Attachments = slices.DeleteFunc(slices.Clone(a.Attachments), func(at Attachment) bool { return at.ID == id })
	})
}

// attachedElsewhere lists the apps other than its owner that the app's
// add-ons are attached to.
func attachedElsewhere(app *App) []string {
	var out []string
	for _, ad := range app.Addons {
		for _, at := range ad.Attachments {
			if at.App != app.Name {
				out = append(out, at.App)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
