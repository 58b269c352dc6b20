package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// sqlAt runs sql on the database at url and returns its output.
func sqlAt(t *testing.T, url, sql string) string {
	t.Helper()
	out, err := exec2("psql", url, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql)
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

// TestHerokuCLIPGCopy: `heroku pg:copy SOURCE TARGET` between two
// databases a member of uses-db may use (owner-db's, attached as
// SHARED_DB, and uses-db's own TARGET_DB) replaces the target's data
// with the source's. The member copies into no database of an app they
// cannot access (lone-db's), by the CLI or by the Data API, nor out of
// one, nor into a database by a URL not its own; each refusal leaves
// the target as it was and takes no number. The copy is listed under
// Copies as c001 and described by pg:backups:info. A copy past the
// server's byte limit stops, says why (the CLI names it c002 as it
// waits), leaves the target's data as it was too, and is listed failed.
func TestHerokuCLIPGCopy(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "psql", "pg_dump", "pg_restore")
	d := newAttachedDB(t)
	s := d.s
	s.psqlValue(t, "owner-db", seed)
	s.psqlValue(t, "lone-db", "create table lone (v text); insert into lone values ('mine')")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "uses-db", "--as", "TARGET_DB")
	target := strings.TrimSpace(s.hako(t, "config:get", "TARGET_DB_URL", "-a", "uses-db"))
	shared := strings.TrimSpace(s.hako(t, "config:get", "SHARED_DB_URL", "-a", "uses-db"))
	lone := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "lone-db"))
	sqlAt(t, target, "create table before (v text); insert into before values ('old')")
	member := d.heroku(t, cli, "member")
	unchanged := func(when string) {
		t.Helper()
		if got := sqlAt(t, target, "select string_agg(v, ',') from before"); got != "old" {
			t.Errorf("%s: TARGET_DB holds %q, want its old data", when, got)
		}
		if got := sqlAt(t, lone, "select string_agg(v, ',') from lone"); got != "mine" {
			t.Errorf("%s: lone-db holds %q, want its own data", when, got)
		}
	}

	// Hostile: into lone-db's database, out of it, into a URL not the
	// target's own.
	out, err := member.run(cliRow{args: []string{"pg:copy", "SHARED_DB", "lone-db::DATABASE", "-a", "uses-db", "--confirm", "DATABASE"}})
	if err == nil {
		t.Errorf("member: heroku pg:copy into lone-db: no error\n%s", out)
	}
	targetID := ""
	{
		_, body := s.api(t, "GET", "/apps/uses-db/addons", "")
		var list []struct{ ID, Name string }
		_ = json.Unmarshal([]byte(body), &list)
		for _, a := range list {
			if a.Name != d.addon {
				targetID = a.ID
			}
		}
	}
	for _, c := range []struct {
		addon, from, to string
		code            int
		message         string
	}{
		{d.lone, shared, lone, 404, ""},
		{targetID, lone, target, 403, "You do not have access to the source database " + d.lone + "."},
		{targetID, shared, lone, 422, "hako copies only into its own databases: name the target as a database of an app (TARGET_DB, or APP::TARGET_DB)."},
		{targetID, target, target, 422, "Cannot copy database onto itself."},
		{targetID, "postgres://x@127.0.0.1:1/x?host=/tmp", target, 422, "The database URL may carry only the parameters sslmode and connect_timeout, not \"host\"."},
	} {
		body, _ := json.Marshal(map[string]string{"from_name": "SRC", "from_url": c.from, "to_name": "DST", "to_url": c.to})
		code, resp := d.apiAs(t, "member", "POST", "/client/v11/databases/"+c.addon+"/transfers", string(body))
		var e struct{ Message string }
		_ = json.Unmarshal([]byte(resp), &e)
		if code != c.code || (c.message != "" && e.Message != c.message) {
			t.Errorf("member: POST transfers on %s from %s: %d %s, want %d %q", c.addon, c.from, code, resp, c.code, c.message)
		}
	}
	unchanged("after the refusals")

	// The copy.
	out, err = member.run(cliRow{args: []string{"pg:copy", "SHARED_DB", "TARGET_DB", "-a", "uses-db", "--confirm", "TARGET_DB"}})
	if e := holdsLines(out, []string{"Starting copy of SHARED_DB to TARGET_DB... done", "Copying... done"}); err != nil || e != nil {
		t.Errorf("member: heroku pg:copy SHARED_DB TARGET_DB: %v %v\n%s", err, e, out)
	}
	if got := sqlAt(t, target, "select string_agg(name, ',' order by id) from items"); got != "alpha,beta,gamma" {
		t.Errorf("TARGET_DB's items after the copy: %q", got)
	}
	if got := sqlAt(t, target, "select count(*) from pg_tables where tablename = 'before'"); got != "0" {
		t.Errorf("TARGET_DB keeps its old table after the copy")
	}
	// The copy is a transfer of the target's, c001 (the refusals took no
	// number), listed under Copies and described, from and to the names
	// the CLI gave.
	date := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000`
	out, err = member.run(cliRow{args: []string{"pg:backups", "-a", "uses-db"}})
	if e := holdsLines(out, []string{"=== Copies", `~ +c001 +` + date + ` +Completed ` + date + ` +\S+ +SHARED_DB +TARGET_DB *`}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups -a uses-db after the copy: %v %v\n%s", err, e, out)
	}
	out, err = member.run(cliRow{args: []string{"pg:backups:info", "c001", "-a", "uses-db"}})
	if e := holdsLines(out, []string{"=== Backup c001", "~Database: +SHARED_DB", "~Status: +Completed", "=== Backup Logs", "~" + date + " copy of SHARED_DB into TARGET_DB finished"}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups:info c001 -a uses-db: %v %v\n%s", err, e, out)
	}
	if out, err := member.run(cliRow{args: []string{"pg:backups:info", "c001", "-a", "lone-db"}}); err == nil || !hasLine(out, " ›   Error: You do not have access to the app lone-db.") {
		t.Errorf("member: heroku pg:backups:info c001 -a lone-db: %v\n%s", err, out)
	}

	// Past the byte limit: stopped, the target as it was.
	sqlAt(t, target, "create table before (v text); insert into before values ('old')")
	s.psqlValue(t, "owner-db", `create table bulk (id serial primary key, v text);
insert into bulk (v) select md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) from generate_series(1, 40000)`)
	s.stop()
	s.env = append(s.env, "HAKO_MAX_PG_BACKUP=1")
	s.start()
	out, err = member.run(cliRow{args: []string{"pg:copy", "SHARED_DB", "TARGET_DB", "-a", "uses-db", "--confirm", "TARGET_DB"}})
	if err == nil || !hasLineMatch(out, ` +pg_dump of the source stopped: the dump passed this server's limit of 1 *`) || !hasLineMatch(out, ` *Run heroku pg:backups:info c002 for more details\.`) {
		t.Errorf("member: heroku pg:copy past the limit: %v\n%s", err, out)
	}
	out, err = member.run(cliRow{args: []string{"pg:backups", "-a", "uses-db"}})
	if e := holdsLines(out, []string{"=== Copies", `~ +c002 +` + date + ` +Failed ` + date + ` +\S+ +SHARED_DB +TARGET_DB *`, `~ +c001 +.*`}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups -a uses-db after the failed copy: %v %v\n%s", err, e, out)
	}
	unchanged("after the copy past the limit")
}
