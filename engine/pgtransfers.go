package engine

import "context"

// The heroku CLI's pg:backups commands name a backup by its add-on and
// number (the Data API's transfers), not by the app's view of it as
// `hako pg:backups` does: these find it so.

// stillRunning refuses to use a backup being taken: its file is not
// whole yet.
func stillRunning(bk *PGBackup) error {
	return Errorf(EINVALID, "Backup %s is still being taken: wait for it, or stop it with pg:backups:cancel.", bk.ID)
}

// addonBackup finds backup id of the add-on addonID among the backups
// of the app named (see Backups), finished unless running says a
// running one will do. Returns ENOTFOUND or EINVALID.
func (e *Engine) addonBackup(name, addonID, id string, running bool) (*PGBackup, error) {
	list, err := e.Backups(name)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].AddonID == addonID && list[i].ID == id {
			if list[i].Running && !running {
				return nil, stillRunning(&list[i])
			}
			return &list[i], nil
		}
	}
	return nil, Errorf(ENOTFOUND, "%s has no backup %s: `hako pg:backups -a %s` lists them.", name, id, name)
}

// DeleteBackup removes backup id of the add-on addonID, one of those
// of the app named (a backup is its add-on's, whichever app lists it).
// Its number is not given again. Returns ENOTFOUND or EINVALID.
func (e *Engine) DeleteBackup(name, addonID, id, user string) (*PGBackup, error) {
	b, err := e.pgBackuper()
	if err != nil {
		return nil, err
	}
	bk, err := e.addonBackup(name, addonID, id, false)
	if err != nil {
		return nil, err
	}
	resource, err := e.attachedResource(name, addonID, id)
	if err != nil {
		return nil, err
	}
	if err := b.Delete(resource, bk.ID); err != nil {
		return nil, err
	}
	e.log(name, "api", "Backup %s of %s deleted by user %s", bk.ID, bk.Addon, user)
	return bk, nil
}

// attachedResource returns the resource of the add-on addonID as one of
// the app's attachments holds it; ENOTFOUND (naming backup id) when the
// add-on is not attached to the app.
func (e *Engine) attachedResource(name, addonID, id string) (map[string]string, error) {
	on, err := e.attachmentsOn(name)
	if err != nil {
		return nil, err
	}
	for _, at := range on {
		if at.Addon.ID == addonID {
			return at.Addon.Resource, nil
		}
	}
	return nil, Errorf(ENOTFOUND, "%s has no backup %s: `hako pg:backups -a %s` lists them.", name, id, name)
}

// StartRestore restores backup id of the add-on addonID, as the backups
// of app src list it (which user must have access to, as to the app
// named), into the app's database (see pgDatabase), if confirm names the
// app, as the Data API's restore does: the restore is numbered and
// recorded (rNNN) and returned at once, running; it goes on in the
// background whatever becomes of the caller, until it ends, a cancel
// (CancelTransfer) or the server's exit. Returns ENOTFOUND, EFORBIDDEN
// or EINVALID; a refusal records and changes nothing.
func (e *Engine) StartRestore(ctx context.Context, name, attachment, src, addonID, id, confirm, user string) (*PGTransfer, error) {
	app, a, err := e.pgDatabase(name, attachment, user)
	if err != nil {
		return nil, err
	}
	b, err := e.pgBackuper()
	if err != nil {
		return nil, err
	}
	if src != app.Name {
		if err := e.CheckAccess(user, src, AccessMember); err != nil {
			return nil, err
		}
	}
	bk, err := e.addonBackup(src, addonID, id, false)
	if err != nil {
		return nil, err
	}
	t, err := e.beginRestore(b, app, a, bk, confirm)
	if err != nil {
		return nil, err
	}
	started := *t
	e.bgCaptures.start(func(ctx context.Context) { _ = e.runRestore(ctx, b, app, a, bk, t, user) })
	return &started, nil
}

// CancelBackup stops the capture under way of backup id of the add-on
// addonID, one of those of the app named, and removes its file. Returns
// ENOTFOUND (not running, or no such backup) or EINVALID.
func (e *Engine) CancelBackup(name, addonID, id, user string) (*PGBackup, error) {
	b, err := e.pgBackuper()
	if err != nil {
		return nil, err
	}
	c, ok := b.(PGCanceler)
	if !ok {
		return nil, Errorf(EINVALID, "This server cannot cancel backups.")
	}
	bk, err := e.addonBackup(name, addonID, id, true)
	if err != nil {
		return nil, err
	}
	if !bk.Running {
		return nil, Errorf(ENOTFOUND, "Backup %s is finished: only a backup being taken can be canceled.", id)
	}
	resource, err := e.attachedResource(name, addonID, id)
	if err != nil {
		return nil, err
	}
	if err := c.Cancel(resource, bk.ID); err != nil {
		return nil, err
	}
	e.log(name, "api", "Backup %s of %s canceled by user %s", bk.ID, bk.Addon, user)
	return bk, nil
}

// CancelAppBackup stops the app's capture ref ("b001"), restore
// ("r002") or copy ("c003") under way, or for "" the newest of them, and
// returns its name. Returns ENOTFOUND, ECONFLICT (a restore or copy that
// has ended) or EINVALID.
func (e *Engine) CancelAppBackup(name, ref, user string) (string, error) {
	list, err := e.Backups(name)
	if err != nil {
		return "", err
	}
	transfers, err := e.Transfers(name)
	if err != nil {
		return "", err
	}
	var newest *PGBackup
	for i := len(list) - 1; i >= 0; i-- {
		if ref == "" && list[i].Running {
			newest = &list[i]
			break
		}
		if list[i].ID == ref {
			bk, err := e.CancelBackup(name, list[i].AddonID, list[i].ID, user)
			if err != nil {
				return "", err
			}
			return bk.ID, nil
		}
	}
	for i := len(transfers) - 1; i >= 0; i-- {
		t := &transfers[i]
		if (ref == "" && t.Running() && (newest == nil || t.CreatedAt.After(newest.CreatedAt))) || (ref != "" && t.Name() == ref) {
			got, err := e.CancelTransfer(name, t.AddonID, t.Name(), user)
			if err != nil {
				return "", err
			}
			return got.Name(), nil
		}
	}
	if newest != nil {
		bk, err := e.CancelBackup(name, newest.AddonID, newest.ID, user)
		if err != nil {
			return "", err
		}
		return bk.ID, nil
	}
	if ref == "" {
		return "", Errorf(ENOTFOUND, "No backup, restore or copy of %s is running.", name)
	}
	return "", Errorf(ENOTFOUND, "%s has no backup, restore or copy %s: `hako pg:backups -a %s` lists them.", name, short(ref), name)
}

// BackupScope says which of the databases attached to the app named
// user may follow the transfers (backups, restores) of through that
// app's name. With access to the app: all of them (all is true). Without
// it, as Heroku lets a collaborator of any app a database is attached to
// follow that database's transfers under its owning app's name (the
// heroku CLI polls a capture there): those attached to the app that are
// also attached to an app user has access to, by add-on id. A user who
// sees none of them gets the same refusal as one who sees nothing of the
// app. Returns ENOTFOUND or EFORBIDDEN.
func (e *Engine) BackupScope(name, user string) (all bool, addons map[string]bool, err error) {
	err = e.CheckAccess(user, name, AccessMember)
	if err == nil {
		return true, nil, nil
	}
	if ErrorCode(err) != EFORBIDDEN {
		return false, nil, err
	}
	refusal := err
	u, err := e.users().User(user)
	if err != nil {
		return false, nil, refusal
	}
	on, err := e.attachmentsOn(name)
	if err != nil {
		return false, nil, err
	}
	addons = map[string]bool{}
	for _, at := range on {
		a := at.Addon
		if a.Service != pgService || addons[a.ID] {
			continue
		}
		for _, other := range a.AllAttachments() {
			if app, err := e.App(other.App); err == nil && CanAccess(u, app, AccessMember) {
				addons[a.ID] = true
				break
			}
		}
	}
	if len(addons) == 0 {
		return false, nil, refusal
	}
	return false, addons, nil
}

// CopyDatabase replaces the data of the database of add-on addonID,
// found through the app named (see pgDatabase), with that of the
// database at fromURL (the heroku CLI's pg:copy), if toURL is the
// target's own URL: hako copies only into its own databases. A source
// that is one of this server's databases must be attached to an app user
// has access to; any other is reached with its URL's credentials only
// (as pg:pull's). The copy is numbered and recorded (cNNN), from and to
// the names the caller gives, and returned at once, running: it goes on
// in the background, as a restore does (StartRestore). The dump streams
// within the server's byte limit and replaces the target only once
// restored whole (PGBackuper.Pull). Returns ENOTFOUND, EFORBIDDEN or
// EINVALID; a refusal records and changes nothing.
func (e *Engine) CopyDatabase(ctx context.Context, name, addonID, fromName, fromURL, toName, toURL, user string) (*PGTransfer, error) {
	app, a, err := e.pgDatabase(name, addonID, user)
	if err != nil {
		return nil, err
	}
	b, err := e.pgBackuper()
	if err != nil {
		return nil, err
	}
	if own := e.addonURL(a); own == "" || toURL != own {
		return nil, Errorf(EINVALID, "hako copies only into its own databases: name the target as a database of an app (TARGET_DB, or APP::TARGET_DB).")
	}
	if fromURL == "" {
		return nil, Errorf(EINVALID, "Name the source database: pg:copy SOURCE TARGET.")
	}
	if fromURL == toURL {
		return nil, Errorf(EINVALID, "Cannot copy database onto itself.")
	}
	if c, ok := b.(PGChecker); ok {
		if err := c.CheckURL(fromURL); err != nil {
			return nil, err
		}
	}
	src, err := e.pgAddonByURL(fromURL)
	if err != nil {
		return nil, err
	}
	if src != nil {
		if src.ID == a.ID {
			return nil, Errorf(EINVALID, "Cannot copy database onto itself.")
		}
		if !e.mayUse(src, user) {
			return nil, Errorf(EFORBIDDEN, "You do not have access to the source database %s.", src.Name)
		}
	}
	what := "another server's database"
	if src != nil {
		what = src.Name
	}
	if fromName = short(fromName); fromName == "" {
		fromName = what
	}
	if toName = short(toName); toName == "" {
		toName = attachmentName(a, app.Name)
	}
	t, err := e.beginTransfer(b, a, TransferCopy, fromName, toName, 0)
	if err != nil {
		return nil, err
	}
	t.App, t.Addon, t.AddonID = app.Name, a.Name, a.ID
	started := *t
	e.bgCaptures.start(func(ctx context.Context) {
		err := e.runTransfer(ctx, a, t, func(ctx context.Context) error { return b.Pull(ctx, a.Resource, fromURL) })
		if err != nil {
			e.log(app.Name, "api", "Copy %s of %s into %s failed: %s", t.Name(), what, a.Name, ErrorMessage(err))
			return
		}
		e.log(app.Name, "api", "Database %s copied into %s (%s) by user %s", what, a.Name, t.Name(), user)
	})
	return &started, nil
}

// addonURL is add-on a's URL, as its owning app's config has it ("" if
// it has none).
func (e *Engine) addonURL(a *Addon) string {
	cfg, err := e.Config(a.App)
	if err != nil {
		return ""
	}
	return cfg[a.ConfigVar()]
}

// pgAddonByURL finds the PostgreSQL add-on whose URL is url, nil for
// none.
func (e *Engine) pgAddonByURL(url string) (*Addon, error) {
	apps, err := e.Apps()
	if err != nil {
		return nil, err
	}
	for _, x := range apps {
		for i := range x.Addons {
			a := &x.Addons[i]
			if a.Service == pgService && e.addonURL(a) == url {
				return a, nil
			}
		}
	}
	return nil, nil
}

// mayUse reports whether user has access to an app add-on a is attached
// to.
func (e *Engine) mayUse(a *Addon, user string) bool {
	for _, at := range a.AllAttachments() {
		if e.CheckAccess(user, at.App, AccessMember) == nil {
			return true
		}
	}
	return false
}
