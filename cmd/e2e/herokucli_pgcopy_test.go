package e2e

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
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
// server's byte limit stops, says why (the CLI names it c003 as it
// waits), leaves the target's data as it was too, and is listed failed.
// A copy held up by a lock on its source is canceled (c002) and leaves
// the target as it was.
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

	// A copy held up by a lock on the source, canceled by the member:
	// the target as it was, the copy listed failed as c002.
	sqlAt(t, target, "create table before (v text); insert into before values ('old')")
	lock := exec.Command("psql", shared, "-X", "-c", "begin; lock table items in access exclusive mode; select pg_sleep(300);")
	if err := lock.Start(); err != nil {
		t.Fatal(err)
	}
	lockDone := make(chan error, 1)
	go func() { lockDone <- lock.Wait() }()
	t.Cleanup(func() { _ = lock.Process.Kill(); <-lockDone })
	release := func() {
		sqlAt(t, shared, "select count(pg_terminate_backend(pid)) from pg_stat_activity where query like '%pg_sleep(300)%' and pid <> pg_backend_pid()")
		<-lockDone
		lockDone <- nil
	}
	waitFor(t, 20*time.Second, "the lock on items", func() bool {
		return sqlAt(t, shared, "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'items' and l.mode = 'AccessExclusiveLock' and l.granted") == "1"
	})
	copied := make(chan string, 1)
	go func() {
		out, _ := member.run(cliRow{args: []string{"pg:copy", "SHARED_DB", "TARGET_DB", "-a", "uses-db", "--confirm", "TARGET_DB"}, timeout: 120 * time.Second})
		copied <- out
	}()
	waitFor(t, 30*time.Second, "the copy waiting on the lock", func() bool {
		list := transferList(t, d, "member", "uses-db")
		return slices.ContainsFunc(list, func(x transfer) bool { return x.Num == 2 && x.FinishedAt == "" }) &&
			sqlAt(t, shared, "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'items' and not l.granted") != "0"
	})
	out, err = member.run(cliRow{args: []string{"pg:backups:cancel", "c002", "-a", "uses-db"}})
	if e := holdsLines(out, []string{"Cancelling c002... done"}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups:cancel c002: %v %v\n%s", err, e, out)
	}
	select {
	case out := <-copied:
		if !hasLineMatch(out, ` *Copy c002 was canceled \(pg:backups:cancel\): TARGET_DB was not changed\.`) {
			t.Errorf("the canceled pg:copy:\n%s", out)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the CLI's copy did not end after its cancel")
	}
	release()
	unchanged("after the canceled copy")
	out, err = member.run(cliRow{args: []string{"pg:backups:info", "c002", "-a", "uses-db"}})
	if e := holdsLines(out, []string{"=== Backup c002", "~Status: +Canceled"}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups:info c002: %v %v\n%s", err, e, out)
	}

	// Past the byte limit: stopped, the target as it was.
	s.psqlValue(t, "owner-db", `create table bulk (id serial primary key, v text);
insert into bulk (v) select md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) from generate_series(1, 40000)`)
	s.stop()
	s.env = append(s.env, "HAKO_MAX_PG_BACKUP=1")
	s.start()
	out, err = member.run(cliRow{args: []string{"pg:copy", "SHARED_DB", "TARGET_DB", "-a", "uses-db", "--confirm", "TARGET_DB"}})
	if err == nil || !hasLineMatch(out, ` +pg_dump of the source stopped: the dump passed this server's limit of 1 *`) || !hasLineMatch(out, ` *Run heroku pg:backups:info c003 for more details\.`) {
		t.Errorf("member: heroku pg:copy past the limit: %v\n%s", err, out)
	}
	out, err = member.run(cliRow{args: []string{"pg:backups", "-a", "uses-db"}})
	if e := holdsLines(out, []string{"=== Copies", `~ +c003 +` + date + ` +Failed ` + date + ` +\S+ +SHARED_DB +TARGET_DB *`, `~ +c002 +` + date + ` +Failed .*`, `~ +c001 +.*`}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups -a uses-db after the failed copy: %v %v\n%s", err, e, out)
	}
	unchanged("after the copy past the limit")
}
