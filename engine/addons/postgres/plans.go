package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"hako/engine"
)

// planLimit is what a Heroku Postgres plan allows: connections per role,
// which PostgreSQL enforces here (CONNECTION LIMIT), and storage, which
// `addons:info` reports against the database's size (Heroku's Essential
// plans enforce it by revoking INSERT; hako only tells).
type planLimit struct {
	connections int
	storage     int64 // bytes
}

const gb = 1 << 30

// plans are Heroku's figures, in the order Plans lists them: the
// connection and storage limits of the Essential tier's plans and of
// standard-0 as Heroku's Dev Center gives them ("Choosing the Right
// Heroku Postgres Plan", devcenter.heroku.com/articles/heroku-postgres-plans,
// and "Heroku Postgres Essential Tier", .../postgres-essential-tier):
// essential-0 1 GB and 20 connections, essential-1 10 GB and 20,
// essential-2 32 GB and 40, standard-0 64 GB and 120. `heroku pg:info`
// of an essential-0 database shows the same limit ("Connections: 6/20").
var plans = []struct {
	name string
	planLimit
}{
	{"essential-0", planLimit{20, 1 * gb}},
	{"essential-1", planLimit{20, 10 * gb}},
	{"essential-2", planLimit{40, 32 * gb}},
	{"standard-0", planLimit{120, 64 * gb}},
}

// limitOf returns the limits of plan; "" and unknown names (an add-on
// recorded before plans had limits) get the first plan's.
func limitOf(plan string) planLimit {
	for _, p := range plans {
		if p.name == plan {
			return p.planLimit
		}
	}
	return plans[0].planLimit
}

// applyLimits sets each resource's role's connection limit from its plan,
// for add-ons made before hako set it, or whose plan changed.
func (p *Provider) applyLimits(ctx context.Context, resources []map[string]string) error {
	var sql strings.Builder
	for _, r := range resources {
		role := r["role"]
		if role == "" {
			continue
		}
		if !ident.MatchString(role) || len(role) > 63 {
			return fmt.Errorf("postgres: invalid role name %q in an add-on's record", role)
		}
		// ALTER ROLE on a role dropped meanwhile must not stop the rest.
		fmt.Fprintf(&sql, "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN ALTER ROLE %s CONNECTION LIMIT %d; END IF; END $$;\n",
			role, quoteIdent(role), limitOf(r["plan"]).connections)
	}
	if sql.Len() == 0 {
		return nil
	}
	if err := p.psql(ctx, sql.String()); err != nil {
		return fmt.Errorf("postgres: setting the plans' connection limits: %w", err)
	}
	return nil
}

// Usage implements engine.AddonReporter: the database's size against the
// plan's storage, and its connections against the role's limit.
func (p *Provider) Usage(ctx context.Context, resource map[string]string, plan string) ([]engine.UsageField, error) {
	db, role := resource["database"], resource["role"]
	if !ident.MatchString(db) || !ident.MatchString(role) {
		return nil, errors.New("postgres: invalid database or role name in the add-on's record")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.ensure(ctx, 0); err != nil {
		return nil, err
	}
	out, err := p.query(ctx, fmt.Sprintf(
		"SELECT pg_database_size('%s'), (SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'), (SELECT rolconnlimit FROM pg_roles WHERE rolname = '%s');",
		db, db, role))
	if err != nil {
		return nil, fmt.Errorf("postgres: measuring database %s: %w", db, err)
	}
	f := strings.Split(strings.TrimSpace(out), "|")
	if len(f) != 3 {
		return nil, fmt.Errorf("postgres: measuring database %s: unexpected answer %q", db, out)
	}
	size, _ := strconv.ParseInt(f[0], 10, 64)
	lim := limitOf(plan)
	compliance := "in compliance"
	if size > lim.storage {
		compliance = "over the plan's storage"
	}
	return []engine.UsageField{
		{Name: "Data Size", Value: fmt.Sprintf("%s / %s (%s)", humanBytes(size), humanBytes(lim.storage), compliance)},
		{Name: "Connections", Value: f[1] + "/" + f[2]},
	}, nil
}

// query runs sql as the superuser and returns its unaligned, tuples-only
// output.
func (p *Provider) query(ctx context.Context, sql string) (string, error) {
	pw, err := p.superPassword()
	if err != nil {
		return "", err
	}
	cmd := p.command(ctx, p.progs.psql, "-h", p.lay.sock, "-p", strconv.Itoa(p.lay.port),
		"-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-X", "-q", "-w", "-tA", "-c", sql)
	cmd.Env = append(cmd.Env, "PGPASSWORD="+pw)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("psql: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

// humanBytes writes n as Heroku's pg:info does: 7.6 MB, 1 GB.
func humanBytes(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + " " + units[i]
}
