package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"

	"hako/engine"
)

var _ engine.CredentialRotator = (*Provider)(nil)

// RotateCredentials implements engine.CredentialRotator, as Heroku's
// pg:credentials:rotate: the add-on's role gets a new random password
// and every session it holds is ended, so that whoever kept the old
// URL (an app detached from the database, a leaked config var) neither
// connects again nor stays connected. It returns the new URL; the
// add-on's record, which holds no password, is unchanged.
func (p *Provider) RotateCredentials(ctx context.Context, resource map[string]string) (string, map[string]string, error) {
	db, role := resource["database"], resource["role"]
	for _, s := range []string{db, role} {
		if !ident.MatchString(s) || len(s) > 63 {
			return "", nil, fmt.Errorf("postgres: rotating credentials: invalid database or role name %q in the add-on's record", s)
		}
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("postgres: making a password: %w", err)
	}
	password := hex.EncodeToString(b[:])
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.ensure(ctx, 0); err != nil {
		return "", nil, err
	}
	// The password first, then the sessions: a client that reconnects in
	// between meets the new password already.
	sql := fmt.Sprintf("ALTER ROLE %s PASSWORD '%s';\nSELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '%s';", quoteIdent(role), password, role)
	if err := p.psql(ctx, sql); err != nil {
		return "", nil, fmt.Errorf("postgres: rotating the password of %s: %w", role, err)
	}
	p.opts.Logf("postgres: rotated the credentials of %s", role)
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%s/%s", role, password, strconv.Itoa(p.lay.port), db), nil, nil
}
