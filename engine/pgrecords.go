package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"
)

// Heroku lists, beside an app's backups, the restores and copies into
// its databases and the captures that failed, all numbered in one
// sequence per database: the heroku CLI names a transfer by a prefix of
// its kind and its number (b001, a002, r003, c004) and finds it again by
// the number alone (pg:backups:info r003 asks for transfer 3). A kept
// backup is its file (PGBackuper); everything else is a PGTransfer kept
// on its database's add-on record in the store, numbered by the
// provider from the same sequence as the backups (PGBackuper.Number), so
// that no two transfers of a database share a number, restarts included.

// Kinds of PGTransfer.
const (
	TransferCapture = "capture" // a capture that failed or was canceled: bNNN, aNNN
	TransferRestore = "restore" // a backup restored into the database: rNNN
	TransferCopy    = "copy"    // a database copied into it (pg:copy): cNNN
)

// maxTransferRecords bounds the transfers kept per database; the oldest
// finished go first. Heroku's CLI shows the last 10 restores and copies.
const maxTransferRecords = 30

// PGTransfer is a restore or a copy into a PostgreSQL add-on's database,
// or a capture of it that failed, as its add-on's record keeps it.
type PGTransfer struct {
	Num  int    `json:"num"`
	Kind string `json:"kind"`
	// UUID names a restore or a copy for the Data API; a capture is
	// named by its add-on and number, as a kept backup is.
	UUID string `json:"uuid,omitempty"`
	// From and To name the two ends as Heroku's transfers do: a restore
	// comes from APP::b001 into an attachment (DATABASE), a copy from and
	// to the names the heroku CLI gave, a capture from its attachment.
	From      string    `json:"from"`
	To        string    `json:"to"`
	Size      int64     `json:"size,omitempty"`
	Scheduled bool      `json:"scheduled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// FinishedAt is zero while it runs.
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Succeeded  bool      `json:"succeeded,omitempty"`
	Canceled   bool      `json:"canceled,omitempty"`
	// Message says how it ended.
	Message string `json:"message,omitempty"`
	// App, Addon and AddonID are set when listed (Transfers): the app
	// it is listed for, the add-on's name and id.
	App     string `json:"-"`
	Addon   string `json:"-"`
	AddonID string `json:"-"`
}

// Name is the transfer's name as the heroku CLI prints it (r003).
func (t *PGTransfer) Name() string {
	prefix := "b"
	switch {
	case t.Kind == TransferRestore:
		prefix = "r"
	case t.Kind == TransferCopy:
		prefix = "c"
	case t.Scheduled:
		prefix = "a"
	}
	return fmt.Sprintf("%s%03d", prefix, t.Num)
}

// Running says the transfer has not ended.
func (t *PGTransfer) Running() bool { return t.FinishedAt.IsZero() }

// what is the transfer for messages: "Restore r003".
func (t *PGTransfer) what() string {
	switch t.Kind {
	case TransferRestore:
		return "Restore " + t.Name()
	case TransferCopy:
		return "Copy " + t.Name()
	}
	return "Backup " + t.Name()
}

// errTransferCanceled is the cause a canceled transfer's context ends
// with.
var errTransferCanceled = errors.New("canceled")

// pgRuns are the restores and copies running in this process, by uuid:
// a record unfinished in the store and not here was cut by a server
// stop.
type pgRuns struct {
	mu sync.Mutex
	m  map[string]*pgRun
}

type pgRun struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{} // closed once its record says how it ended
}

func (p *pgRuns) add(uuid string) *pgRun {
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &pgRun{ctx: ctx, cancel: cancel, done: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*pgRun{}
	}
	p.m[uuid] = r
	return r
}

func (p *pgRuns) get(uuid string) *pgRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[uuid]
}

func (p *pgRuns) end(uuid string) {
	p.mu.Lock()
	r := p.m[uuid]
	delete(p.m, uuid)
	p.mu.Unlock()
	if r != nil {
		r.cancel(nil)
		close(r.done)
	}
}

// keepTransfer records t on a's record, dropping the oldest finished
// past maxTransferRecords.
func (e *Engine) keepTransfer(a *Addon, t PGTransfer) error {
	return e.updateAddon(a.App, a.ID, func(x *Addon) { x.PGTransfers = e.keep(x.PGTransfers, t) })
}

// keep adds t to list, dropping the oldest ended past
// maxTransferRecords (one a server stop cut short has ended too).
func (e *Engine) keep(list []PGTransfer, t PGTransfer) []PGTransfer {
	list = append(slices.Clone(list), t)
	for len(list) > maxTransferRecords {
		i := slices.IndexFunc(list, func(t PGTransfer) bool { return !t.Running() || e.pgRuns.get(t.UUID) == nil })
		if i < 0 {
			break
		}
		list = slices.Delete(list, i, i+1)
	}
	return list
}

// beginTransfer gives a new restore or copy into a's database its number
// (from the sequence of its backups) and records it, running; run then
// does it (runTransfer).
// One restore or copy into a database runs at a time: another is refused
// (ECONFLICT), as a second capture is, since both would build the new
// data in the same place.
func (e *Engine) beginTransfer(b PGBackuper, a *Addon, kind, from, to string, size int64) (*PGTransfer, error) {
	if err := e.busy(a.PGTransfers, a.Name); err != nil {
		return nil, err
	}
	n, err := b.Number(a.Resource)
	if err != nil {
		return nil, err
	}
	t := &PGTransfer{Num: n, Kind: kind, UUID: NewID(), From: from, To: to, Size: size, CreatedAt: time.Now().UTC()}
	e.pgRuns.add(t.UUID)
	var conflict error
	err = e.updateAddon(a.App, a.ID, func(x *Addon) {
		// Checked again where it is written: two requests may have
		// passed the first check together.
		if conflict = e.busy(x.PGTransfers, a.Name); conflict == nil {
			x.PGTransfers = e.keep(x.PGTransfers, *t)
		}
	})
	if err == nil {
		err = conflict
	}
	if err != nil {
		e.pgRuns.end(t.UUID)
		return nil, err
	}
	return t, nil
}

// busy refuses a new restore or copy into add-on name while one of
// list runs.
func (e *Engine) busy(list []PGTransfer, name string) error {
	for _, t := range list {
		if t.Running() && t.UUID != "" && e.pgRuns.get(t.UUID) != nil {
			return Errorf(ECONFLICT, "%s into %s is running: wait for it to finish, or stop it with pg:backups:cancel %s.", t.what(), name, t.Name())
		}
	}
	return nil
}

// runTransfer does transfer t, begun on a, with f, which ctx's end or a
// cancel (CancelTransfer) stops, and records how it ended.
func (e *Engine) runTransfer(ctx context.Context, a *Addon, t *PGTransfer, f func(ctx context.Context) error) error {
	run := e.pgRuns.get(t.UUID)
	defer e.pgRuns.end(t.UUID)
	stop := context.AfterFunc(ctx, func() { run.cancel(context.Cause(ctx)) })
	defer stop()
	err := f(run.ctx)
	canceled := err != nil && errors.Is(context.Cause(run.ctx), errTransferCanceled)
	switch {
	case canceled:
		err = Errorf(EINVALID, "%s was canceled (pg:backups:cancel): %s was not changed.", t.what(), t.To)
	case err != nil && e.stopping.Load():
		err = Errorf(EINVALID, "%s was stopped by the server's stop: %s was not changed.", t.what(), t.To)
	}
	now := time.Now().UTC()
	msg := fmt.Sprintf("%s of %s into %s finished", t.Kind, t.From, t.To)
	if err != nil {
		msg = ErrorMessage(err)
	}
	if rerr := e.updateAddon(a.App, a.ID, func(x *Addon) {
		x.PGTransfers = slices.Clone(x.PGTransfers)
		for i := range x.PGTransfers {
			if x.PGTransfers[i].UUID == t.UUID {
				r := &x.PGTransfers[i]
				r.FinishedAt, r.Succeeded, r.Canceled, r.Message = now, err == nil, canceled, msg
				*t = *r
			}
		}
	}); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// recordFailedCapture keeps the capture of bk, begun on a through its
// attachment from, that failed with err: Heroku lists a failed backup
// with its number and status, which a restart must not lose.
func (e *Engine) recordFailedCapture(a *Addon, bk *PGBackup, from string, err error) {
	msg := ErrorMessage(err)
	t := PGTransfer{Num: bk.Num, Kind: TransferCapture, From: from, To: "BACKUP", Size: 0, Scheduled: bk.Scheduled(),
		CreatedAt: bk.CreatedAt, FinishedAt: time.Now().UTC(), Canceled: isCanceled(err), Message: msg}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = t.FinishedAt
	}
	if rerr := e.keepTransfer(a, t); rerr != nil {
		e.log(a.App, "api", "Backup %s of %s failed and could not be recorded: %s", bk.ID, a.Name, ErrorMessage(rerr))
	}
}

// canceledRe is how a capture stopped by pg:backups:cancel says so.
var canceledRe = regexp.MustCompile(`was canceled \(pg:backups:cancel\)`)

// isCanceled says err is a capture's end by pg:backups:cancel.
func isCanceled(err error) bool {
	return ErrorCode(err) == EINVALID && canceledRe.MatchString(ErrorMessage(err))
}

// attachmentName is a's name on the app named (its own name, As, if
// none).
func attachmentName(a *Addon, app string) string {
	for _, at := range a.AllAttachments() {
		if at.App == app {
			return at.Name
		}
	}
	return a.As
}

// Transfers lists the restores, copies and failed captures of the
// PostgreSQL add-ons attached to the app, oldest first, as Backups lists
// their backups. One left unfinished by a server stop is shown failed.
// Returns ENOTFOUND.
func (e *Engine) Transfers(name string) ([]PGTransfer, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, err
	}
	on, err := e.pgAttachmentsOn(app.Name)
	if err != nil {
		return nil, err
	}
	var out []PGTransfer
	for _, at := range on {
		a := at.Addon
		for _, t := range a.PGTransfers {
			t.App, t.Addon, t.AddonID = app.Name, a.Name, a.ID
			if t.Running() && e.pgRuns.get(t.UUID) == nil {
				t.FinishedAt, t.Message = t.CreatedAt, "The server stopped during the "+t.Kind+": it did not finish."
			}
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(x, y PGTransfer) int { return x.CreatedAt.Compare(y.CreatedAt) })
	return out, nil
}

// CancelTransfer stops the restore or copy named (by its name, r003, or
// its uuid) of the add-on addonID, one of those attached to the app
// named, and returns it as it ended. A restore or copy stopped leaves
// its database as it was: the new data replaces the old only once
// restored whole, a step that, once begun, is not stopped (a cancel then
// comes too late and says so). Returns ENOTFOUND (no such transfer), or
// ECONFLICT (it has ended).
func (e *Engine) CancelTransfer(name, addonID, ref, user string) (*PGTransfer, error) {
	t, err := e.transfer(name, addonID, ref)
	if err != nil {
		return nil, err
	}
	run := e.pgRuns.get(t.UUID)
	if !t.Running() || run == nil || t.Kind == TransferCapture {
		return nil, Errorf(ECONFLICT, "%s has ended: only a running transfer can be canceled.", t.what())
	}
	run.cancel(errTransferCanceled)
	select {
	case <-run.done:
	case <-time.After(30 * time.Second):
		return nil, Errorf(EINTERNAL, "%s did not stop within 30 s of its cancel.", t.what())
	}
	got, err := e.transfer(name, addonID, t.UUID)
	if err != nil {
		return nil, err
	}
	if got.Succeeded {
		return nil, Errorf(ECONFLICT, "%s finished before it could be stopped.", t.what())
	}
	e.log(name, "api", "%s of %s canceled by user %s", t.what(), t.Addon, user)
	return got, nil
}

// transfer finds a transfer of add-on addonID ("" for any) as the app
// named lists it, by name (r003) or uuid.
func (e *Engine) transfer(name, addonID, ref string) (*PGTransfer, error) {
	list, err := e.Transfers(name)
	if err != nil {
		return nil, err
	}
	for i := len(list) - 1; i >= 0; i-- {
		t := &list[i]
		if (addonID == "" || t.AddonID == addonID) && (t.Name() == ref || (t.UUID != "" && t.UUID == ref)) {
			return t, nil
		}
	}
	return nil, Errorf(ENOTFOUND, "%s has no transfer %s: `heroku pg:backups -a %s` lists them.", name, short(ref), name)
}

// DeleteTransfer removes the record of a failed capture (bNNN) of the
// add-on addonID, as pg:backups:delete removes a failed backup on
// Heroku; restores and copies are not deleted. Returns ENOTFOUND or
// EINVALID.
func (e *Engine) DeleteTransfer(name, addonID, ref, user string) (*PGTransfer, error) {
	t, err := e.transfer(name, addonID, ref)
	if err != nil {
		return nil, err
	}
	if t.Kind != TransferCapture {
		return nil, Errorf(EINVALID, "%s is not a backup: only backups are deleted.", t.what())
	}
	a, err := e.addonByID(name, addonID)
	if err != nil {
		return nil, err
	}
	if err := e.updateAddon(a.App, a.ID, func(x *Addon) {
		x.PGTransfers = slices.DeleteFunc(slices.Clone(x.PGTransfers), func(r PGTransfer) bool { return r.Kind == TransferCapture && r.Num == t.Num })
	}); err != nil {
		return nil, err
	}
	e.log(name, "api", "Backup %s of %s deleted by user %s", t.Name(), t.Addon, user)
	return t, nil
}

// addonByID is the add-on addonID among those attached to the app named.
func (e *Engine) addonByID(name, addonID string) (*Addon, error) {
	on, err := e.attachmentsOn(name)
	if err != nil {
		return nil, err
	}
	for _, at := range on {
		if at.Addon.ID == addonID {
			a := at.Addon
			return &a, nil
		}
	}
	return nil, Errorf(ENOTFOUND, "The database is not attached to %s.", name)
}
