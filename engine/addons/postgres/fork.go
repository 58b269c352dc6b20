package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"hako/engine"
)

var _ engine.AddonForker = (*Provider)(nil)

// A fork is a new add-on (its own role and password) whose database
// starts as a copy of another's. The fast way is CREATE DATABASE …
// TEMPLATE, a file-level copy that takes about a second for a small
// database; but PostgreSQL refuses it while anyone else is connected to
// the template ("source database is being accessed by other users", after
// waiting up to 5 s for them to leave), and the parent is an app that may
// well be. The parent is never disturbed for it: its connections are not
// terminated, nor new ones refused. When pg_stat_activity shows it in
// use, or TEMPLATE fails for that reason, the copy is made with pg_dump
// and pg_restore instead, which read a consistent snapshot while the
// parent serves. Either way the copy belongs to the new role only: the
// objects the parent's role owned are handed over one by one (never with
// REASSIGN OWNED, which would hand over the parent's database itself),
// and only the new role may connect.

// Fork implements engine.AddonForker: a new database named after name,
// on plan, holding a copy of the parent add-on's. how says which way the
// copy was made.
func (p *Provider) Fork(ctx context.Context, name, plan string, parent map[string]string) (url string, resource map[string]string, how string, err error) {
	pdb, prole := parent["database"], parent["role"]
	if !ident.MatchString(pdb) || !ident.MatchString(prole) || len(pdb) > 63 {
		return "", nil, "", fmt.Errorf("postgres: invalid database or role name in the parent add-on's record")
	}
	if !addonName.MatchString(name) || len(name) > 63 {
		return "", nil, "", engine.Errorf(engine.EINVALID, "Add-on name %q is invalid for heroku-postgresql.", name)
	}
	id := strings.ReplaceAll(name, "-", "_")
	s, err := p.open(ctx)
	if err != nil {
		return "", nil, "", err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, "", fmt.Errorf("postgres: making a password: %w", err)
	}
	password := hex.EncodeToString(b[:])
	q := quoteIdent(id)
	if err := s.sql(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN CONNECTION LIMIT %d PASSWORD '%s';", q, limitOf(plan).connections, password)); err != nil {
		return "", nil, "", fmt.Errorf("postgres: creating role %s: %w", id, err)
	}
	undo := func(err error) (string, map[string]string, string, error) {
		p.mu.Lock()
		p.undo(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\nDROP ROLE IF EXISTS %s;", q, q))
		p.mu.Unlock()
		return "", nil, "", err
	}
	how = "CREATE DATABASE … TEMPLATE"
	copied := false
	if inUse, err := s.inUse(ctx, pdb); err != nil {
		return undo(err)
	} else if !inUse {
		err := s.sql(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s OWNER %s;", q, quoteIdent(pdb), q))
		if err != nil && !strings.Contains(err.Error(), "is being accessed by other users") {
			return undo(fmt.Errorf("postgres: copying %s: %w", pdb, err))
		}
		copied = err == nil
	}
	if copied {
		if err := s.handOver(ctx, id, prole, id); err != nil {
			return undo(err)
		}
	} else {
		how = "pg_dump and pg_restore (the parent's database was in use)"
		if err := s.copyByDump(ctx, pdb, id); err != nil {
			return undo(err)
		}
	}
	if err := s.sql(ctx, fmt.Sprintf("REVOKE ALL ON DATABASE %s FROM PUBLIC;", q)); err != nil {
		return undo(fmt.Errorf("postgres: restricting database %s: %w", id, err))
	}
	port := strconv.Itoa(p.lay.port)
	url = fmt.Sprintf("postgres://%s:%s@127.0.0.1:%s/%s", id, password, port, id)
	p.opts.Logf("postgres: forked %s into %s by %s", pdb, id, how)
	return url, map[string]string{"database": id, "role": id, "port": port}, how, nil
}

// handOver gives role to every object of db that from owns: schemas,
// tables, views, sequences not tied to a table, routines and types. The
// objects of a template copy keep the template's owners.
func (s *session) handOver(ctx context.Context, db, from, to string) error {
	sql := fmt.Sprintf(`DO $hako$
DECLARE r record;
BEGIN
  FOR r IN SELECT nspname FROM pg_namespace WHERE nspowner = '%[1]s'::regrole LOOP
    EXECUTE format('ALTER SCHEMA %%I OWNER TO %%I', r.nspname, '%[2]s');
  END LOOP;
  FOR r IN SELECT c.oid::regclass AS obj, c.relkind FROM pg_class c
      WHERE c.relowner = '%[1]s'::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))) LOOP
    EXECUTE format('ALTER %%s %%s OWNER TO %%I', CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.obj, '%[2]s');
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS obj FROM pg_proc p WHERE p.proowner = '%[1]s'::regrole LOOP
    EXECUTE format('ALTER ROUTINE %%s OWNER TO %%I', r.obj, '%[2]s');
  END LOOP;
  FOR r IN SELECT t.oid::regtype AS obj FROM pg_type t
      WHERE t.typowner = '%[1]s'::regrole AND t.typtype IN ('e', 'd', 'r')
         OR t.typowner = '%[1]s'::regrole AND t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c' LOOP
    EXECUTE format('ALTER TYPE %%s OWNER TO %%I', r.obj, '%[2]s');
  END LOOP;
END
$hako$;`, from, to)
	cmd, err := s.super(ctx, "psql", db)
	if err != nil {
		return err
	}
	cmd.Stdin = strings.NewReader(sql)
	if err := run(cmd, "handing the copy of "+db+" over"); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// copyByDump makes db, owned by role db, and copies src into it with
// pg_dump and pg_restore as that role.
func (s *session) copyByDump(ctx context.Context, src, db string) error {
	q := quoteIdent(db)
	if err := s.sql(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s;", q, q)); err != nil {
		return fmt.Errorf("postgres: creating database %s: %w", db, err)
	}
	dir, err := s.p.backupDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("fork-%d.tmp", time.Now().UnixNano()))
	defer os.Remove(path)
	dump, err := s.super(ctx, "pg_dump", src, "-Fc", "--no-owner", "--no-acl")
	if err != nil {
		return err
	}
	if _, err := dumpTo(dump, path, MaxBackupBytes, "pg_dump of "+src); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer f.Close()
	restore, err := s.super(ctx, "pg_restore", db, "--no-owner", "--no-acl", "--role="+db, "--exit-on-error")
	if err != nil {
		return err
	}
	restore.Stdin = f
	return run(restore, "pg_restore into "+db)
}

// inUse reports whether anyone is connected to db.
func (s *session) inUse(ctx context.Context, db string) (bool, error) {
	cmd, err := s.super(ctx, "psql", "postgres", "-tA", "-c",
		fmt.Sprintf("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid();", db))
	if err != nil {
		return false, err
	}
	var out strings.Builder
	cmd.Stdout = &out
	if err := run(cmd, "reading who uses "+db); err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	return strings.TrimSpace(out.String()) != "0", nil
}
