package engine

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// PGBackup is one backup of a PostgreSQL add-on: a pg_dump -Fc file.
type PGBackup struct {
	ID        string    `json:"id"` // b001
	Num       int       `json:"num"`
	App       string    `json:"app"`
	Addon     string    `json:"addon"`
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"created_at"`
	// Path is the file on the server; it is not shown.
	Path string `json:"-"`
	// AddonID is the add-on's id and Attachment its name on App, as
	// Heroku's transfers name them (from_name).
	AddonID    string `json:"-"`
	Attachment string `json:"-"`
	// Running says the backup is being taken: its file is not whole yet.
	Running bool `json:"running,omitempty"`
	// Schedule is, for a scheduled backup (aNNN), the id of its
	// database's schedule if it still has one.
	Schedule string `json:"-"`
}

// Scheduled says the backup was taken by its database's schedule
// (pg:backups:schedule): Heroku names those aNNN, the others bNNN, from
// one sequence of numbers.
func (b *PGBackup) Scheduled() bool { return strings.HasPrefix(b.ID, "a") }

// PGCanceler is a PGBackuper whose captures under way can be stopped
// (pg:backups:cancel).
type PGCanceler interface {
	// Cancel stops the capture of backup id of the add-on and removes
	// its file. Returns ENOTFOUND when it is not running.
	Cancel(resource map[string]string, id string) error
}

// PGBackuper is an AddonProvider whose databases can be dumped, restored
// and copied to and from other PostgreSQL servers (heroku-postgresql).
type PGBackuper interface {
	// Backups lists an add-on's backups, oldest first.
	Backups(resource map[string]string) ([]PGBackup, error)
	// Begin starts a capture of the add-on's database into a new backup,
	// aNNN when scheduled, else bNNN, numbered once and for all: its
	// number is not given again, whether it succeeds or not. The dump is
	// taken by the capture's Run. Returns ECONFLICT while another
	// capture of the database runs.
	Begin(ctx context.Context, resource map[string]string, scheduled bool) (*PGCapture, error)
	// Number gives the add-on's database the next number of its
	// transfers (a restore, a copy), from the sequence of its backups,
	// once and for all.
	Number(resource map[string]string) (int, error)
	// Restore replaces the add-on's database with the dump at path;
	// nothing changes when it fails or ctx ends before the new data is
	// whole.
	Restore(ctx context.Context, resource map[string]string, path string) error
	// Delete removes one of the add-on's backups; its number is not
	// given again.
	Delete(resource map[string]string, id string) error
	// Pull replaces the add-on's database with the one at url, reached
	// with url's own credentials only.
	Pull(ctx context.Context, resource map[string]string, url string) error
	// Push copies the add-on's database into the empty one at url,
	// reached with url's own credentials only.
	Push(ctx context.Context, resource map[string]string, url string) error
}

// PGChecker is a PGBackuper that can tell what it would refuse before
// anything is recorded or started, so that a refused restore or copy is
// not listed as one that failed.
type PGChecker interface {
	// CheckURL returns EINVALID for a URL Pull refuses.
	CheckURL(url string) error
	// CheckDump returns EINVALID for a dump Restore refuses into the
	// add-on's database (past the server's byte limit).
	CheckDump(resource map[string]string, path string) error
}

// PGCapture is a capture begun (PGBackuper.Begin): its backup has its
// number and is listed as running before the dump starts, so that the
// Data API can answer at once and let the dump go on.
type PGCapture struct {
	// Backup is the backup being taken.
	Backup PGBackup
	// Run takes the dump and returns the backup with the ids of those
	// dropped to make room; the end of ctx or a Cancel stops it and
	// removes the backup. It is called once.
	Run func(ctx context.Context) (*PGBackup, []string, error)
}

// AddonForker is an AddonProvider that can make a new resource holding a
// copy of another's data (a database fork).
type AddonForker interface {
	// Fork makes a resource named name on plan holding a copy of
	// parent's data; how says which way it was copied.
	Fork(ctx context.Context, name, plan string, parent map[string]string) (url string, resource map[string]string, how string, err error)
}

const pgService = "heroku-postgresql"

// CaptureBackup dumps the app's database (DATABASE or the one named, see
// pgDatabase) into a new backup. Returns ENOTFOUND, EFORBIDDEN or
// EINVALID.
func (e *Engine) CaptureBackup(ctx context.Context, name, attachment, user string) (*PGBackup, []string, error) {
	app, a, err := e.pgDatabase(name, attachment, user)
	if err != nil {
		return nil, nil, err
	}
	b, err := e.pgBackuper()
	if err != nil {
		return nil, nil, err
	}
	c, err := b.Begin(ctx, a.Resource, false)
	if err != nil {
		return nil, nil, err
	}
	bk, dropped, err := c.Run(ctx)
	if err != nil {
		e.recordFailedCapture(a, &c.Backup, attachmentName(a, app.Name), err)
		return nil, nil, err
	}
	bk.App, bk.Addon, bk.AddonID = app.Name, a.Name, a.ID
	e.log(app.Name, "api", "Backup %s of %s captured by user %s", bk.ID, a.Name, user)
	return bk, dropped, nil
}

// Backups lists the backups of the PostgreSQL add-ons attached to the
// app, its own and other apps', oldest first: a backup is its add-on's,
// whichever app it was taken through. Returns ENOTFOUND.
func (e *Engine) Backups(name string) ([]PGBackup, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, err
	}
	b, ok := e.AddonProviders[pgService].(PGBackuper)
	if !ok {
		return nil, nil
	}
	on, err := e.pgAttachmentsOn(app.Name)
	if err != nil {
		return nil, err
	}
	var out []PGBackup
	for _, at := range on {
		a := at.Addon
		list, err := b.Backups(a.Resource)
		if err != nil {
			return nil, err
		}
		for _, bk := range list {
			bk.App, bk.Addon, bk.AddonID, bk.Attachment = app.Name, a.Name, a.ID, at.Name
			if bk.Scheduled() && a.BackupSchedule != nil {
				bk.Schedule = a.BackupSchedule.ID
			}
			out = append(out, bk)
		}
	}
	slices.SortStableFunc(out, func(x, y PGBackup) int { return x.CreatedAt.Compare(y.CreatedAt) })
	return out, nil
}

// pgAttachmentsOn returns the attachments on the app named of its
// PostgreSQL add-ons, one per add-on (the first, when the app has it
// under two names): what lists a database's backups and transfers once.
func (e *Engine) pgAttachmentsOn(name string) ([]AddonAttachment, error) {
	on, err := e.attachmentsOn(name)
	if err != nil {
		return nil, err
	}
	var out []AddonAttachment
	seen := map[string]bool{}
	for _, at := range on {
		if at.Addon.Service != pgService || seen[at.Addon.ID] {
			continue
		}
		seen[at.Addon.ID] = true
		out = append(out, at)
	}
	return out, nil
}

var backupRefRe = regexp.MustCompile(`^(?:([a-z][a-z0-9-]{1,28}[a-z0-9])::)?([ab]\d{3,})$`)

// Backup finds a backup: "b001" (or scheduled "a001") of the app, "OTHER::b001" of another
// app (Heroku's form), which user must have access to, or "" for the
// app's latest. Returns ENOTFOUND, EFORBIDDEN or EINVALID.
func (e *Engine) Backup(name, ref, user string) (*PGBackup, error) {
	app := name
	id := ""
	if ref != "" {
		m := backupRefRe.FindStringSubmatch(ref)
		if m == nil {
			return nil, Errorf(EINVALID, "Backup %q is invalid: name one as b001 (a001 if scheduled), or APP::b001 for another app's.", ref)
		}
		if m[1] != "" && m[1] != name {
			// Another app's data: the caller's access to this app says
			// nothing of that one.
			if err := e.CheckAccess(user, m[1], AccessMember); err != nil {
				return nil, err
			}
			app = m[1]
		}
		id = m[2]
	}
	list, err := e.Backups(app)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, Errorf(ENOTFOUND, "%s has no backups: `hako pg:backups:capture -a %s` takes one.", app, app)
	}
	if id == "" {
		for i := len(list) - 1; i >= 0; i-- {
			if !list[i].Running {
				return &list[i], nil
			}
		}
		return nil, Errorf(ENOTFOUND, "%s has no finished backup yet.", app)
	}
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].ID == id {
			if list[i].Running {
				return nil, stillRunning(&list[i])
			}
			return &list[i], nil
		}
	}
	return nil, Errorf(ENOTFOUND, "%s has no backup %s: `hako pg:backups -a %s` lists them.", app, id, app)
}

// confirmed refuses a destructive operation unless confirm names the app.
func confirmed(app, confirm, what string) error {
	if confirm != app {
		return Errorf(EINVALID, "This replaces the data of %s's database with %s. To proceed, re-run this command with --confirm %s", app, what, app)
	}
	return nil
}

// RestoreBackup replaces the app's database (DATABASE or the one named,
// see pgDatabase) with a backup (see Backup), if confirm names the app
// the database was found through. Returns ENOTFOUND, EFORBIDDEN or
// EINVALID; a refusal changes nothing.
func (e *Engine) RestoreBackup(ctx context.Context, name, ref, attachment, confirm, user string) (*PGBackup, error) {
	app, a, err := e.pgDatabase(name, attachment, user)
	if err != nil {
		return nil, err
	}
	b, err := e.pgBackuper()
	if err != nil {
		return nil, err
	}
	bk, err := e.Backup(name, ref, user)
	if err != nil {
		return nil, err
	}
	return e.restore(ctx, b, app, a, bk, confirm, user)
}

// restore replaces a's database, found through app, with backup bk, if
// confirm names app, as restore rNNN of the database.
func (e *Engine) restore(ctx context.Context, b PGBackuper, app *App, a *Addon, bk *PGBackup, confirm, user string) (*PGBackup, error) {
	t, err := e.beginRestore(b, app, a, bk, confirm)
	if err != nil {
		return nil, err
	}
	if err := e.runRestore(ctx, b, app, a, bk, t, user); err != nil {
		return nil, err
	}
	return bk, nil
}

// beginRestore numbers and records the restore of bk into a, found
// through app, if confirm names app.
func (e *Engine) beginRestore(b PGBackuper, app *App, a *Addon, bk *PGBackup, confirm string) (*PGTransfer, error) {
	if err := confirmed(app.Name, confirm, "backup "+bk.App+"::"+bk.ID); err != nil {
		return nil, err
	}
	if c, ok := b.(PGChecker); ok {
		if err := c.CheckDump(a.Resource, bk.Path); err != nil {
			return nil, err
		}
	}
	t, err := e.beginTransfer(b, a, TransferRestore, bk.App+"::"+bk.ID, attachmentName(a, app.Name), bk.Size)
	if err != nil {
		return nil, err
	}
	t.App, t.Addon, t.AddonID = app.Name, a.Name, a.ID
	return t, nil
}

// runRestore does restore t (beginRestore) and records how it ended.
func (e *Engine) runRestore(ctx context.Context, b PGBackuper, app *App, a *Addon, bk *PGBackup, t *PGTransfer, user string) error {
	err := e.runTransfer(ctx, a, t, func(ctx context.Context) error { return b.Restore(ctx, a.Resource, bk.Path) })
	if err != nil {
		e.log(app.Name, "api", "Restore %s of %s::%s into %s failed: %s", t.Name(), bk.App, bk.ID, a.Name, ErrorMessage(err))
		return err
	}
	e.log(app.Name, "api", "Backup %s::%s restored into %s (%s) by user %s", bk.App, bk.ID, a.Name, t.Name(), user)
	return nil
}

// PullDatabase replaces the app's database (see pgDatabase) with the one
// at url, if confirm names the app it was found through. Returns
// ENOTFOUND, EFORBIDDEN or EINVALID.
func (e *Engine) PullDatabase(ctx context.Context, name, url, attachment, confirm, user string) error {
	app, a, err := e.pgDatabase(name, attachment, user)
	if err != nil {
		return err
	}
	b, err := e.pgBackuper()
	if err != nil {
		return err
	}
	if err := confirmed(app.Name, confirm, "the source database"); err != nil {
		return err
	}
	if err := b.Pull(ctx, a.Resource, url); err != nil {
		return err
	}
	e.log(app.Name, "api", "Database pulled into %s by user %s", a.Name, user)
	return nil
}

// PushDatabase copies the app's database (see pgDatabase) into the empty
// one at url. Returns ENOTFOUND, EFORBIDDEN or EINVALID.
func (e *Engine) PushDatabase(ctx context.Context, name, url, attachment, user string) error {
	app, a, err := e.pgDatabase(name, attachment, user)
	if err != nil {
		return err
	}
	b, err := e.pgBackuper()
	if err != nil {
		return err
	}
	if err := b.Push(ctx, a.Resource, url); err != nil {
		return err
	}
	e.log(app.Name, "api", "Database %s pushed by user %s", a.Name, user)
	return nil
}

// forkAddon provisions, for app, a heroku-postgresql add-on holding a
// copy of the database of parent's add-on attached as parentAs
// (DATABASE by default) and attaches it as as. It returns the URL. The
// caller holds app's lock.
func (e *Engine) forkAddon(ctx context.Context, app *App, parent, parentAs, plan, as, user string, out io.Writer) (string, error) {
	p, ok := e.AddonProviders[pgService]
	if !ok {
		return "", Errorf(EINVALID, "This server does not offer heroku-postgresql.")
	}
	f, ok := p.(AddonForker)
	if !ok {
		return "", Errorf(EINVALID, "This server cannot fork heroku-postgresql databases.")
	}
	if plan == "" {
		plan = p.Plans()[0]
	}
	if !slices.Contains(p.Plans(), plan) {
		return "", Errorf(EINVALID, "Unknown plan %q for heroku-postgresql.", plan)
	}
	pa, err := e.App(parent)
	if err != nil {
		return "", Errorf(ENOTFOUND, "The app %s to fork the database of does not exist.", parent)
	}
	if parentAs == "" {
		parentAs = "DATABASE"
	}
	src, err := e.pgAddon(pa, parentAs)
	if err != nil {
		return "", err
	}
	a := newAddon(app.Name, p, plan, as)
	start := time.Now()
	url, res, how, err := f.Fork(ctx, a.Name, plan, src.Resource)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(out, "-----> Forked %s's %s into %s as %s in %.1f s (%s)\n", parent, src.Name, a.Name, as, time.Since(start).Seconds(), how)
	a.Resource = res
	e.exposeAddon(res)
	if _, err := e.Store.UpdateApp(app.Name, func(x *App) error { x.Addons = append(x.Addons, *a); return nil }); err != nil {
		return "", err
	}
	e.log(app.Name, "api", "Attach %s (%s, a fork of %s's %s) by user %s", as, a.Name, parent, src.Name, user)
	return url, nil
}
