package e2e

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// psqlValue runs one query through `hako pg:psql` and returns its
// unaligned, tuples-only answer.
func (s *server) psqlValue(t *testing.T, app, sql string) string {
	t.Helper()
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", app))
	out, err := exec2("psql", dbURL, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql)
	if err != nil {
		t.Fatalf("psql on %s: %v\n%s", app, err, out)
	}
	return strings.TrimSpace(out)
}

const seed = `create table items (id serial primary key, name text);
insert into items (name) values ('alpha'), ('beta'), ('gamma');`

// TestPGBackups captures a backup of one app's database, downloads it,
// restores it into another app (which then holds the same rows, owned by
// its own role), pulls and pushes databases by URL; a restore without
// --confirm and pulls with borrowed or missing credentials change nothing.
func TestPGBackups(t *testing.T) {
	need(t, "psql", "pg_dump", "pg_restore")
	s := startServer(t)
	for _, a := range []string{"pgsrc", "pgdst", "pgempty"} {
		s.hako(t, "apps:create", a)
		s.hako(t, "addons:create", "heroku-postgresql", "-a", a)
	}
	s.psqlValue(t, "pgsrc", seed)
	s.psqlValue(t, "pgdst", "create table mine (x text); insert into mine values ('dst data')")
	rows := "1|alpha,2|beta,3|gamma"
	query := "select string_agg(id || '|' || name, ',' order by id) from items"

	out := s.hako(t, "pg:backups:capture", "-a", "pgsrc")
	if !hasLineMatch(out, `Backing up DATABASE of ⬢ pgsrc\.\.\. done, b001 \(\d+(\.\d)?[kM]?B\)`) {
		t.Fatalf("capture:\n%s", out)
	}
	if out := s.hako(t, "pg:backups", "-a", "pgsrc"); !hasLineMatch(out, `b001\s+\S+\s+\S+\s+postgresql-[a-z]+-\d{5}`) {
		t.Errorf("pg:backups:\n%s", out)
	}
	dump := filepath.Join(t.TempDir(), "latest.dump")
	if out := s.hako(t, "pg:backups:download", "-a", "pgsrc", "-o", dump); !hasLineMatch(out, `Downloaded \S+ to .*latest\.dump`) {
		t.Errorf("download:\n%s", out)
	}
	if b, err := os.ReadFile(dump); err != nil || !bytes.HasPrefix(b, []byte("PGDMP")) {
		t.Errorf("the download is not a pg_dump custom file: %v %q", err, b[:min(len(b), 5)])
	}

	// Without --confirm, from the CLI or the API, nothing happens.
	if out, err := s.run("pg:backups:restore", "pgsrc::b001", "-a", "pgdst"); err == nil || !hasLine(out, " ▸    This replaces the data of pgdst's database. To proceed, re-run this command with --confirm pgdst") {
		t.Errorf("restore without --confirm: %v\n%s", err, out)
	}
	if code, body := s.api(t, "POST", "/apps/pgdst/pg-backups/actions/restore", `{"backup": "pgsrc::b001", "confirm": "pgsrc"}`); code != 422 {
		t.Errorf("API restore confirming another app: %d %s", code, body)
	}
	if got := s.psqlValue(t, "pgdst", "select x from mine"); got != "dst data" {
		t.Errorf("a refused restore changed pgdst: %q", got)
	}

	// Another user may not restore pgsrc's backup into an app of theirs:
	// access to the target says nothing of the source.
	stranger := s.keygen("stranger")
	s.hako(t, "users:add", "stranger@example.test", "--key", stranger+".pub")
	for _, args := range [][]string{{"apps:create", "strapp"}, {"addons:create", "heroku-postgresql", "-a", "strapp"}} {
		if out, err := s.ssh(stranger, nil, args...); err != nil {
			t.Fatalf("stranger: %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := s.ssh(stranger, nil, "pg:backups:restore", "pgsrc::b001", "-a", "strapp", "--confirm", "strapp"); err == nil || !hasLine(out, " ▸    You do not have access to the app pgsrc.") {
		t.Errorf("a stranger restored another app's backup: %v\n%s", err, out)
	}
	if got := s.psqlValue(t, "strapp", "select count(*) from pg_tables where schemaname = 'public'"); got != "0" {
		t.Errorf("the refused restore changed strapp: %s tables", got)
	}

	out = s.hako(t, "pg:backups:restore", "pgsrc::b001", "-a", "pgdst", "--confirm", "pgdst")
	if !hasLine(out, "Restoring into DATABASE of ⬢ pgdst... done, from pgsrc::b001") {
		t.Fatalf("restore:\n%s", out)
	}
	if got := s.psqlValue(t, "pgdst", query); got != rows {
		t.Errorf("pgdst after the restore = %q, want %q", got, rows)
	}
	if got := s.psqlValue(t, "pgdst", "select count(*) from pg_tables where tablename = 'mine'"); got != "0" {
		t.Errorf("the restore kept pgdst's own table")
	}
	// The app's own role owns what was restored: it writes and alters it.
	s.psqlValue(t, "pgdst", "insert into items (name) values ('delta'); alter table items add column note text")
	if got := s.psqlValue(t, "pgsrc", "select count(*) from items"); got != "3" {
		t.Errorf("a write to the restored copy reached pgsrc: %s rows", got)
	}

	srcURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "pgsrc"))
	u, _ := url.Parse(srcURL)
	wrong := *u
	wrong.User = url.UserPassword(u.User.Username(), "not-the-password")
	noPass := *u
	noPass.User = url.User("postgres")
	sock := *u
	sock.RawQuery = "host=/tmp"
	passfile := *u
	passfile.RawQuery = "passfile=" + filepath.Join(s.home, "addons", "postgres", "superuser-password")
	for _, c := range []struct{ name, url, want string }{
		{"another app's role with a wrong password", wrong.String(), `.*password authentication failed for user.*`},
		{"the superuser without a password", noPass.String(), `.*(password authentication failed|no password supplied|fe_sendauth).*`},
		{"a socket directory", sock.String(), ` ▸    The database URL may carry only the parameters sslmode and connect_timeout, not "host"\.`},
		{"a password file", passfile.String(), ` ▸    The database URL may carry only the parameters sslmode and connect_timeout, not "passfile"\.`},
		{"not a URL", "/var/lib/postgresql", ` ▸    The database URL must be postgres://USER:PASSWORD@HOST:PORT/DATABASE\.`},
	} {
		out, err := s.run("pg:pull", c.url, "-a", "pgempty", "--confirm", "pgempty")
		if err == nil || !hasLineMatch(out, c.want) {
			t.Errorf("pg:pull with %s: %v\n%s", c.name, err, out)
		}
		if strings.Contains(out, u.User.String()) {
			t.Errorf("pg:pull with %s shows the URL's password:\n%s", c.name, out)
		}
	}
	if got := s.psqlValue(t, "pgempty", "select count(*) from pg_tables where schemaname = 'public'"); got != "0" {
		t.Errorf("a refused pull changed pgempty: %s tables", got)
	}
	if out, err := s.run("pg:pull", srcURL, "-a", "pgempty"); err == nil || !hasLine(out, " ▸    This replaces the data of pgempty's database. To proceed, re-run this command with --confirm pgempty") {
		t.Errorf("pg:pull without --confirm: %v\n%s", err, out)
	}
	// With the source's own credentials it works.
	if out := s.hako(t, "pg:pull", srcURL, "-a", "pgempty", "--confirm", "pgempty"); !hasLine(out, "Pulling into DATABASE of ⬢ pgempty... done") {
		t.Errorf("pg:pull:\n%s", out)
	}
	if got := s.psqlValue(t, "pgempty", query); got != rows {
		t.Errorf("pgempty after the pull = %q, want %q", got, rows)
	}

	// An add-on keeps 10 backups: the eleventh capture drops the oldest.
	for i := 2; i <= 10; i++ {
		s.hako(t, "pg:backups:capture", "-a", "pgsrc")
	}
	if out := s.hako(t, "pg:backups:capture", "-a", "pgsrc"); !hasLineMatch(out, `Backing up DATABASE of ⬢ pgsrc\.\.\. done, b011 \(.*\)`) || !hasLine(out, "Removed b001 to keep within the limits (10 backups, 4 GiB).") {
		t.Errorf("the eleventh capture:\n%s", out)
	}
	if list := s.hako(t, "pg:backups", "-a", "pgsrc"); hasLineMatch(list, `b001\s.*`) || !hasLineMatch(list, `b002\s.*`) || len(regexp.MustCompile(`(?m)^b0\d\d\s`).FindAllString(list, -1)) != 10 {
		t.Errorf("pg:backups after eleven captures:\n%s", list)
	}
	if out, err := s.run("pg:backups:restore", "b001", "-a", "pgsrc", "--confirm", "pgsrc"); err == nil || !hasLine(out, " ▸    pgsrc has no backup b001: `hako pg:backups -a pgsrc` lists them.") {
		t.Errorf("restore of a dropped backup: %v\n%s", err, out)
	}

	// pg:push goes only into an empty database.
	s.hako(t, "apps:create", "pgtarget")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "pgtarget")
	targetURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "pgtarget"))
	if out := s.hako(t, "pg:push", "-a", "pgsrc", targetURL); !hasLine(out, "Pushing DATABASE of ⬢ pgsrc... done") {
		t.Errorf("pg:push:\n%s", out)
	}
	if got := s.psqlValue(t, "pgtarget", query); got != rows {
		t.Errorf("pgtarget after the push = %q, want %q", got, rows)
	}
	if out, err := s.run("pg:push", "-a", "pgsrc", targetURL); err == nil || !hasLine(out, " ▸    The target database is not empty: push into an empty database.") {
		t.Errorf("pg:push into a database with tables: %v\n%s", err, out)
	}
}

// exec2 runs a program and returns its combined output.
func exec2(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
