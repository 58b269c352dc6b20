// Package postgres provides the heroku-postgresql add-on on a local
// PostgreSQL server: one cluster per hako server, one role and one
// database per add-on, each app reaching its own database over TCP on
// the loopback interface with a password, like a hosted database.
//
// PostgreSQL is driven through its own programs (initdb, postgres, psql,
// pg_isready) so that hako needs no database driver and works with the
// distribution's packages as they are.
package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"hako/engine"
	"hako/engine/addons/localproc"
)

// Options tunes a Provider. The zero value is ready to use.
type Options struct {
	// Logf receives what the provider does (cluster created, server
	// started, stopped, crashed); nil discards it.
	Logf func(format string, args ...any)
	// User and Group are the uid and gid the PostgreSQL programs run as
	// when hako runs as root, because PostgreSQL refuses to run as root.
	// Zero means engine.AddonUID: a user of their own, which no app's
	// processes share. When hako is not root, the programs run as hako's
	// own user and these are ignored.
	User, Group int
	// Host is the address, besides 127.0.0.1, that the server listens on:
	// the host's address on the dynos' network, which dynos in network
	// namespaces of their own reach (their supervisor rewrites the
	// DATABASE_URLs, which name 127.0.0.1, for them). Subnet (their
	// addresses) may connect with a password, the superuser never. Empty:
	// loopback only.
	Host, Subnet string
	// Port is the TCP port the server listens on, on 127.0.0.1. Zero picks
	// a free port the first time and keeps it in the provider's directory,
	// so that the DATABASE_URLs handed to apps stay valid across restarts.
	Port int
	// MaxBackupBytes bounds each dump hako writes or reads (a backup, a
	// pg:pull's or pg:push's copy, a dump restored) and the bytes of
	// backups an add-on keeps. Zero means MaxBackupBytes.
	MaxBackupBytes int64
}

// Provider is the heroku-postgresql engine.AddonProvider. Its methods may
// be called concurrently; they are serialised, since they all act on the
// one cluster.
type Provider struct {
	dir  string
	opts Options

	mu    sync.Mutex
	progs *programs       // found on first use
	lay   *layout         // decided on first use
	srv   *localproc.Proc // the running postmaster, nil when none
	// wanted says the server should be running: set by a successful
	// start, cleared by Stop. A server that exits while wanted is
	// restarted as restarts says.
	wanted   bool
	restarts localproc.Restarts

	// captures are the captures under way, by dump file (see cancel.go).
	capturesMu sync.Mutex
	captures   map[string]*capture
}

var (
	_ engine.AddonProvider = (*Provider)(nil)
	_ engine.AddonReporter = (*Provider)(nil)
)

// New returns a provider keeping its cluster in dir (or, when the
// unprivileged user cannot reach dir, in a directory named after it under
// /var/lib/hako-postgres; see layout). Nothing is created or started
// until Start or Provision needs it.
func New(dir string, opts Options) *Provider {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.User <= 0 {
		opts.User = engine.AddonUID
	}
	if opts.Group <= 0 {
		opts.Group = engine.AddonUID
	}
	return &Provider{dir: dir, opts: opts}
}

// Service implements engine.AddonProvider.
func (p *Provider) Service() string { return "heroku-postgresql" }

// Attachment implements engine.AddonProvider.
func (p *Provider) Attachment() string { return "DATABASE" }

// Plans implements engine.AddonProvider: Heroku's names, each with its
// connection limit per role and a storage figure (see plans).
func (p *Provider) Plans() []string {
	names := make([]string, len(plans))
	for i, pl := range plans {
		names[i] = pl.name
	}
	return names
}

// Start implements engine.AddonProvider. Without resources it does
// nothing, so that a machine whose apps use no database runs no server
// (and needs no PostgreSQL installed).
func (p *Provider) Start(ctx context.Context, resources []map[string]string) error {
	if len(resources) == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// A lost port file must not move the server away from the port the
	// existing DATABASE_URLs name.
	port := 0
	for _, r := range resources {
		if n, err := strconv.Atoi(r["port"]); err == nil && n > 0 && n < 65536 {
			port = n
		}
	}
	if err := p.ensure(ctx, port); err != nil {
		return err
	}
	return p.applyLimits(ctx, resources)
}

// addonName is the shape of the add-on names the engine makes.
var addonName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// ident is the shape of the SQL identifiers made from add-on names. It is
// checked again before any identifier reaches SQL, so that a damaged
// record cannot inject SQL.
var ident = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Provision implements engine.AddonProvider: it makes a role and a
// database named after the add-on, the role owning the database and the
// only one (besides the superuser) allowed to connect to it.
func (p *Provider) Provision(ctx context.Context, name, plan string) (string, map[string]string, error) {
	if !addonName.MatchString(name) || len(name) > 63 {
		return "", nil, engine.Errorf(engine.EINVALID, "Add-on name %q is invalid for heroku-postgresql: use at most 63 lowercase letters, digits and dashes, starting with a letter.", name)
	}
	id := strings.ReplaceAll(name, "-", "_")
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.ensure(ctx, 0); err != nil {
		return "", nil, err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("postgres: making a password: %w", err)
	}
	password := hex.EncodeToString(b[:])
	q := quoteIdent(id)

	// One statement per step, so that a failure undoes exactly what this
	// call made and never touches an object of the same name made by
	// someone else.
	// The plan's connection limit is the role's: one app cannot take every
	// slot of the server.
	if err := p.psql(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN CONNECTION LIMIT %d PASSWORD '%s';", q, limitOf(plan).connections, password)); err != nil {
		return "", nil, fmt.Errorf("postgres: creating role %s: %w", id, err)
	}
	if err := p.psql(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s;", q, q)); err != nil {
		p.undo(ctx, fmt.Sprintf("DROP ROLE IF EXISTS %s;", q))
		return "", nil, fmt.Errorf("postgres: creating database %s: %w", id, err)
	}
	if err := p.psql(ctx, fmt.Sprintf("REVOKE ALL ON DATABASE %s FROM PUBLIC;", q)); err != nil {
		p.undo(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\nDROP ROLE IF EXISTS %s;", q, q))
		return "", nil, fmt.Errorf("postgres: restricting database %s: %w", id, err)
	}
	port := strconv.Itoa(p.lay.port)
	url := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%s/%s", id, password, port, id)
	p.opts.Logf("postgres: created database %s", id)
	return url, map[string]string{"database": id, "role": id, "port": port}, nil
}

// undo runs clean-up SQL after a failed Provision. Its own failure is only
// logged: the error that matters is the one that made the clean-up needed.
func (p *Provider) undo(ctx context.Context, sql string) {
	if err := p.psql(context.WithoutCancel(ctx), sql); err != nil {
		p.opts.Logf("postgres: cleaning up after a failed provision: %v", err)
	}
}

// Deprovision implements engine.AddonProvider: it drops the database,
// disconnecting its clients, then the role. Dropping what is already gone
// succeeds, so that a retried removal completes.
func (p *Provider) Deprovision(ctx context.Context, resource map[string]string) error {
	db, role := resource["database"], resource["role"]
	if db == "" && role == "" {
		return nil // nothing was made
	}
	for _, s := range []string{db, role} {
		if !ident.MatchString(s) || len(s) > 63 {
			return fmt.Errorf("postgres: deprovisioning: invalid database or role name %q in the add-on's record", s)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.ensure(ctx, 0); err != nil {
		return err
	}
	sql := fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\nDROP ROLE IF EXISTS %s;", quoteIdent(db), quoteIdent(role))
	if err := p.psql(ctx, sql); err != nil {
		return fmt.Errorf("postgres: dropping database %s: %w", db, err)
	}
	p.opts.Logf("postgres: dropped database %s", db)
	return nil
}

// Stop implements engine.AddonProvider: a fast shutdown of the server
// (clients disconnected, data flushed). It does nothing when no server
// runs, so it may be called any number of times.
func (p *Provider) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wanted = false
	if p.srv == nil {
		return
	}
	srv := p.srv
	p.srv = nil
	p.stopServer(srv)
}

// quoteIdent quotes a SQL identifier. The identifiers used here are
// already restricted to [a-z0-9_], so quoting only keeps keywords (a
// database named "user") from being read as such.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
