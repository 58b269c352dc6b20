package redis

import (
	"context"
	"fmt"

	"hako/engine"
)

var _ engine.CredentialRotator = (*Provider)(nil)

// NewCredentials implements engine.CredentialRotator, as Heroku's
// redis:credentials --reset: a new random password for the add-on's
// server, on the same port and with the same data. Nothing changes until
// SetCredentials; the returned record, which the engine keeps, is the
// one the server is started from afterwards.
func (p *Provider) NewCredentials(_ context.Context, rec map[string]string) (string, map[string]string, error) {
	r, err := p.parse(rec)
	if err != nil {
		return "", nil, err
	}
	if r.password, err = randomHex(16); err != nil {
		return "", nil, err
	}
	return r.url(), r.record(), nil
}

// SetCredentials implements engine.CredentialRotator: the add-on's
// server, running with the record from, is started again with the
// password of the record to. The server reads its password only when it
// starts (CONFIG is renamed away, so that no app can change it), so it
// is stopped, which writes its data, and started again: from the stop on
// the other password is refused, and every connection made with it has
// ended with the old server. If the server does not come back with the
// new password, it is started again with from's and the error returned.
// A server that runs with to's password already is left running.
func (p *Provider) SetCredentials(ctx context.Context, from map[string]string, _ string, to map[string]string) error {
	r, err := p.parse(from)
	if err != nil {
		return err
	}
	next, err := p.parse(to)
	if err != nil {
		return err
	}
	if next.name != r.name || next.port != r.port || next.data != r.data {
		return fmt.Errorf("redis add-on %s: the new credentials are those of another add-on", r.name)
	}
	next.plan = r.plan
	bin, err := lookRedis()
	if err != nil {
		return err
	}
	// Once the old server is stopped, a caller that goes away must not
	// leave the add-on without one.
	ctx = context.WithoutCancel(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.servers[r.name]; ok && s.r.password == next.password {
		return nil
	}
	// A restart pending after a crash would bring the old password back.
	delete(p.restarts, r.name)
	if s, ok := p.servers[r.name]; ok {
		delete(p.servers, r.name)
		s.stop()
	}
	if err := p.start(ctx, bin, next); err != nil {
		if err2 := p.start(ctx, bin, r); err2 != nil {
			p.opts.Logf("redis add-on %s: starting again with the old password: %v", r.name, err2)
		}
		return fmt.Errorf("redis add-on %s: starting with the new password: %w", r.name, err)
	}
	p.opts.Logf("redis add-on %s: credentials rotated", r.name)
	return nil
}
