package redis

import (
	"context"
	"fmt"

	"hako/engine"
)

var _ engine.CredentialRotator = (*Provider)(nil)

// RotateCredentials implements engine.CredentialRotator, as Heroku's
// redis:credentials --reset: the add-on's server gets a new random
// password, on the same port and with the same data. The server reads
// its password only when it starts (CONFIG is renamed away, so that no
// app can change it), so it is stopped, which writes its data, and
// started again with the new one: from the stop on the old password is
// refused, and every connection made with it has ended with the old
// server. If the server does not come back with the new password, it is
// started again with the old one and the error returned, so that a
// failed rotation changes nothing. It returns the new URL and the
// add-on's record with the new password, for the engine to keep.
func (p *Provider) RotateCredentials(ctx context.Context, rec map[string]string) (string, map[string]string, error) {
	r, err := p.parse(rec)
	if err != nil {
		return "", nil, err
	}
	bin, err := lookRedis()
	if err != nil {
		return "", nil, err
	}
	password, err := randomHex(16)
	if err != nil {
		return "", nil, err
	}
	// Once the old server is stopped, a caller that goes away must not
	// leave the add-on without one.
	ctx = context.WithoutCancel(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	// A restart pending after a crash would bring the old password back.
	delete(p.restarts, r.name)
	if s, ok := p.servers[r.name]; ok {
		delete(p.servers, r.name)
		s.stop()
	}
	next := r
	next.password = password
	if err := p.start(ctx, bin, next); err != nil {
		if err2 := p.start(ctx, bin, r); err2 != nil {
			p.opts.Logf("redis add-on %s: starting again with the old password: %v", r.name, err2)
		}
		return "", nil, fmt.Errorf("redis add-on %s: starting with the new password: %w", r.name, err)
	}
	p.opts.Logf("redis add-on %s: credentials rotated", r.name)
	return next.url(), next.record(), nil
}
