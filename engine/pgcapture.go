package engine

import (
	"context"
	"sync"
)

// The Data API's capture (the heroku CLI's pg:backups:capture) runs on
// the server: it answers as soon as the backup has its number, and the
// CLI only polls, so a client that goes away (a Ctrl-C) stops nothing.
// Such captures are bounded as every capture is: one per database at a
// time (PGBackuper.Begin), each dump within the server's byte limit; they
// are canceled as any other (pg:backups:cancel) and stopped at the
// server's exit (Shutdown).

// bgCaptures are the captures running past their request.
type bgCaptures struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start runs f in a goroutine of its own, with a context the server's
// exit ends.
func (b *bgCaptures) start(f func(ctx context.Context)) {
	b.mu.Lock()
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithCancel(context.Background())
	}
	ctx := b.ctx
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		f(ctx)
	}()
}

// stop ends the captures under way and waits for them.
func (b *bgCaptures) stop() {
	b.mu.Lock()
	if b.cancel != nil {
		b.cancel()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// StartBackup begins a capture of the app's database (DATABASE or the
// one named, see pgDatabase) and returns its backup, running, at once;
// the dump goes on in the background, whatever becomes of the caller,
// and done, when set, is told how it ended. Returns ENOTFOUND,
// EFORBIDDEN, EINVALID, or ECONFLICT while a capture of that database
// runs.
func (e *Engine) StartBackup(ctx context.Context, name, attachment, user string, done func(*PGBackup, error)) (*PGBackup, error) {
	app, a, err := e.pgDatabase(name, attachment, user)
	if err != nil {
		return nil, err
	}
	b, err := e.pgBackuper()
	if err != nil {
		return nil, err
	}
	c, err := b.Begin(ctx, a.Resource, false)
	if err != nil {
		return nil, err
	}
	bk := c.Backup
	bk.App, bk.Addon, bk.AddonID = app.Name, a.Name, a.ID
	e.log(app.Name, "api", "Backup %s of %s started by user %s", bk.ID, a.Name, user)
	e.bgCaptures.start(func(ctx context.Context) {
		got, _, err := c.Run(ctx)
		if err != nil {
			e.log(app.Name, "api", "Backup %s of %s failed: %s", bk.ID, a.Name, ErrorMessage(err))
			e.recordFailedCapture(a, &bk, attachmentName(a, app.Name), err)
		} else {
			got.App, got.Addon, got.AddonID = app.Name, a.Name, a.ID
			e.log(app.Name, "api", "Backup %s of %s captured", bk.ID, a.Name)
		}
		if done != nil {
			done(got, err)
		}
	})
	return &bk, nil
}
