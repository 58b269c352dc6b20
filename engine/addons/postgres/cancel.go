package postgres

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"hako/engine"
)

// A capture under way can be canceled (pg:backups:cancel): it is known
// by its dump file until it ends, and Backups shows it as running.

var _ engine.PGCanceler = (*Provider)(nil)

// capture is a capture under way.
type capture struct {
	cancel context.CancelCauseFunc
	done   chan struct{} // closed when it has ended and its file is settled
}

// errCanceled is the cause a canceled capture's context ends with.
var errCanceled = errors.New("canceled")

// track records a capture writing path and returns its context, and the
// function that ends the record once the capture is over.
func (p *Provider) track(ctx context.Context, path string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	c := &capture{cancel: cancel, done: make(chan struct{})}
	p.capturesMu.Lock()
	if p.captures == nil {
		p.captures = map[string]*capture{}
	}
	p.captures[path] = c
	p.capturesMu.Unlock()
	return ctx, func() {
		p.capturesMu.Lock()
		delete(p.captures, path)
		p.capturesMu.Unlock()
		cancel(nil)
		close(c.done)
	}
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
		return engine.Errorf(engine.EINVALID, "Backup %q is invalid: name one as b001.", id)
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
