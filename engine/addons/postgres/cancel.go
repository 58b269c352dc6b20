package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"hako/engine"
)

// A capture under way can be canceled (pg:backups:cancel): it is known
// by its dump file until it ends, and Backups shows it as running.

var _ engine.PGCanceler = (*Provider)(nil)

// capture is a capture under way.
type capture struct {
	backup engine.PGBackup // its backup, running
	file   *os.File        // its dump file, created by begin
	ctx    context.Context // the dump's, ended by cancel
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when it has ended and its file is settled
}

// errCanceled is the cause a canceled capture's context ends with.
var errCanceled = errors.New("canceled")

// begin gives the next backup of db, whose backups (in dir) are have,
// its number and its file, and records the capture under way; untrack
// ends the record. The number is written down (lastFile) before the
// dump starts. Returns ECONFLICT while another capture of db runs.
func (p *Provider) begin(dir, db string, have []engine.PGBackup, scheduled bool) (*capture, error) {
	p.capturesMu.Lock()
	defer p.capturesMu.Unlock()
	for path, c := range p.captures {
		if filepath.Dir(path) == dir {
			return nil, engine.Errorf(engine.ECONFLICT, "A backup of %s is already being taken (%s): wait for it to finish, or stop it with pg:backups:cancel.", db, c.backup.ID)
		}
	}
	next, err := takeNumber(dir, have)
	if err != nil {
		return nil, err
	}
	prefix := "b"
	if scheduled {
		prefix = "a"
	}
	id := fmt.Sprintf("%s%03d", prefix, next)
	path := filepath.Join(dir, id+".dump")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &capture{
		backup: engine.PGBackup{ID: id, Num: next, CreatedAt: time.Now().UTC(), Path: path, Running: true},
		file:   f, ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	if p.captures == nil {
		p.captures = map[string]*capture{}
	}
	p.captures[path] = c
	return c, nil
}

// takeNumber gives the next number of the database whose backups (in
// dir) are have, and writes it down (lastFile) before it is used. The
// caller holds capturesMu: no one else reads or writes lastFile
// meanwhile.
func takeNumber(dir string, have []engine.PGBackup) (int, error) {
	next := lastNum(dir) + 1
	for _, b := range have {
		next = max(next, b.Num+1)
	}
	if err := os.WriteFile(filepath.Join(dir, lastFile), []byte(strconv.Itoa(next)+"\n"), 0o600); err != nil {
		return 0, fmt.Errorf("postgres: recording transfer number %d: %w", next, err)
	}
	return next, nil
}

// Number implements engine.PGBackuper: a restore or a copy into the
// add-on's database takes the next number of its backups' sequence, so
// that the heroku CLI, which finds a transfer by its number alone, never
// sees two transfers of a database with one number.
func (p *Provider) Number(resource map[string]string) (int, error) {
	dir, err := p.backupDir(resource["database"])
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	have, err := p.Backups(resource)
	if err != nil {
		return 0, err
	}
	p.capturesMu.Lock()
	defer p.capturesMu.Unlock()
	return takeNumber(dir, have)
}

// untrack ends the record of capture c, once its file is settled.
func (p *Provider) untrack(c *capture) {
	p.capturesMu.Lock()
	delete(p.captures, c.backup.Path)
	p.capturesMu.Unlock()
	c.cancel(nil)
	close(c.done)
}

// running reports whether a capture is writing path.
func (p *Provider) running(path string) bool {
	p.capturesMu.Lock()
	defer p.capturesMu.Unlock()
	return p.captures[path] != nil
}

// canceled turns the error of a capture whose context was canceled by
// Cancel into one that says so.
func canceled(ctx context.Context, err error, what string) error {
	if err != nil && errors.Is(context.Cause(ctx), errCanceled) {
		return engine.Errorf(engine.EINVALID, "%s was canceled (pg:backups:cancel).", what)
	}
	return err
}

// Cancel implements engine.PGCanceler: the capture of backup id of the
// add-on, if under way, is stopped and its file removed; Cancel returns
// once it has ended (or after 30 s). Returns ENOTFOUND when it is not
// running.
func (p *Provider) Cancel(resource map[string]string, id string) error {
	if !backupRe.MatchString(id) {
		return engine.Errorf(engine.EINVALID, "Backup %q is invalid: name one as b001 or a001.", id)
	}
	dir, err := p.backupDir(resource["database"])
	if err != nil {
		return err
	}
	path := filepath.Join(dir, id+".dump")
	p.capturesMu.Lock()
	c := p.captures[path]
	p.capturesMu.Unlock()
	if c == nil {
		return engine.Errorf(engine.ENOTFOUND, "Backup %s is not running: only a backup being taken can be canceled.", id)
	}
	c.cancel(errCanceled)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("postgres: backup %s did not stop within 30 s of its cancel", id)
	}
	p.opts.Logf("postgres: backup %s of %s canceled", id, resource["database"])
	return nil
}
