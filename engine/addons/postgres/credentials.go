package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"regexp"
	"strconv"

	"hako/engine"
)

var _ engine.CredentialRotator = (*Provider)(nil)

// passwordRE is the shape of the passwords this provider makes.
var passwordRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// NewCredentials implements engine.CredentialRotator, as Heroku's
// pg:credentials:rotate: a new random password for the add-on's role,
// in the URL returned. Nothing changes until SetCredentials; the
// add-on's record, which holds no password, stays as it is.
func (p *Provider) NewCredentials(ctx context.Context, resource map[string]string) (string, map[string]string, error) {
	db, role, err := roleOf(resource)
	if err != nil {
		return "", nil, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("postgres: making a password: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.ensure(ctx, 0); err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%s/%s", role, hex.EncodeToString(b[:]), strconv.Itoa(p.lay.port), db), nil, nil
}

// SetCredentials implements engine.CredentialRotator: the add-on's role
// gets the password of url and every session it holds is ended, so that
// whoever kept another URL (an app detached from the database, a leaked
// config var) neither connects again nor stays connected. Setting the
// password the role has already ends its sessions all the same.
func (p *Provider) SetCredentials(ctx context.Context, resource map[string]string, url string, _ map[string]string) error {
	_, role, err := roleOf(resource)
	if err != nil {
		return err
	}
	u, err := neturl.Parse(url)
	if err != nil || u.User == nil || u.User.Username() != role {
		return fmt.Errorf("postgres: rotating the password of %s: the URL is not the role's", role)
	}
	password, _ := u.User.Password()
	if !passwordRE.MatchString(password) {
		return fmt.Errorf("postgres: rotating the password of %s: not a password this server made", role)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.ensure(ctx, 0); err != nil {
		return err
	}
	// The password first, then the sessions: a client that reconnects in
	// between meets the new password already.
	sql := fmt.Sprintf("ALTER ROLE %s PASSWORD '%s';\nSELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '%s';", quoteIdent(role), password, role)
	if err := p.psql(ctx, sql); err != nil {
		return fmt.Errorf("postgres: rotating the password of %s: %w", role, err)
	}
	p.opts.Logf("postgres: rotated the credentials of %s", role)
	return nil
}

// roleOf returns the database and role of an add-on's record.
func roleOf(resource map[string]string) (db, role string, err error) {
	db, role = resource["database"], resource["role"]
	for _, s := range []string{db, role} {
		if !ident.MatchString(s) || len(s) > 63 {
			return "", "", fmt.Errorf("postgres: rotating credentials: invalid database or role name %q in the add-on's record", s)
		}
	}
	return db, role, nil
}
