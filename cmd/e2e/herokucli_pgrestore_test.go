package e2e

import (
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// holdSQL makes a table whose every row, when written, comments on the
// database db: a restore of a dump holding it (pg_restore loads the row
// into a new database) waits, in real PostgreSQL, on the row lock of any
// transaction that commented on db and has not ended, as a test holds
// one. pg_shdescription is shared by every database of the server, so
// the wait crosses from the database being restored into to db.
func holdSQL(db string) string {
	return `create function hold() returns boolean language plpgsql as $$
begin
  comment on database "` + db + `" is 'restored';
  return true;
end $$;
create table held (x int check (hold()));
insert into held values (1);`
}

// TestHerokuCLIPGRestoreCancel: a restore held up by a lock the test
// holds runs: the heroku CLI lists it under Restores as r002 (after
// b001, one sequence per database), Running. A stranger's cancel is
// refused and it goes on; `heroku pg:backups:cancel` stops it: the
// CLI's restore fails saying so, the database is as it was before the
// restore (the row deleted after the backup still deleted, the test's
// connection to it never cut, no half-restored database left), and the
// restore is listed failed and described as Canceled. hako's own
// `pg:backups:cancel r003` stops a second one, from `hako
// pg:backups:restore`. A second restore while one runs is refused, a
// finished restore is not canceled, nor one named through another app,
// and unknown ids are not found: nothing changes. A restore the server's
// stop cuts leaves the database as it was and is listed failed after the
// restart.
func TestHerokuCLIPGRestoreCancel(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "psql", "pg_dump", "pg_restore")
	d := newAttachedDB(t)
	s := d.s
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "owner-db"))
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	s.psqlValue(t, "owner-db", seed)
	s.psqlValue(t, "owner-db", holdSQL(db))
	s.hako(t, "pg:backups:capture", "-a", "owner-db")
	s.psqlValue(t, "owner-db", "delete from items where name = 'alpha'")
	rows := "select string_agg(name, ',' order by id) from items"

	// The lock: a transaction that commented on the database, left open.
	lock := exec.Command("psql", dbURL, "-X", "-c", `begin; comment on database "`+db+`" is 'held'; select pg_sleep(300);`)
	if err := lock.Start(); err != nil {
		t.Fatal(err)
	}
	lockDone := make(chan error, 1)
	go func() { lockDone <- lock.Wait() }()
	t.Cleanup(func() { _ = lock.Process.Kill(); <-lockDone })
	waitFor(t, 20*time.Second, "the held comment", func() bool {
		return s.psqlValue(t, "owner-db", "select count(*) from pg_stat_activity where query like '%pg_sleep(300)%' and state = 'active' and pid <> pg_backend_pid()") == "1"
	})
	blocked := func() bool {
		return s.psqlValue(t, "owner-db", "select count(*) from pg_locks where not granted") != "0"
	}
	restoring := func() string {
		return s.psqlValue(t, "owner-db", "select count(*) from pg_database where datname like '%_restoring'")
	}

	admin := d.heroku(t, cli, "admin")
	type result struct {
		out string
		err error
	}
	restored := make(chan result, 1)
	go func() {
		out, err := admin.run(cliRow{args: []string{"pg:backups:restore", "b001", "DATABASE_URL", "-a", "owner-db", "--confirm", "owner-db"}, timeout: 120 * time.Second})
		restored <- result{out, err}
	}()
	waitFor(t, 30*time.Second, "the restore waiting on the lock", func() bool {
		list := transferList(t, d, "", "owner-db")
		return len(list) == 2 && blocked()
	})
	list := transferList(t, d, "", "owner-db")
	var r002 transfer
	for _, x := range list {
		if x.Num == 2 {
			r002 = x
		}
	}
	if r002.ToType != "pg_restore" || r002.FromType != "gof3r" || r002.FinishedAt != "" || r002.FromName != "owner-db::b001" {
		t.Fatalf("the running restore: %+v", list)
	}
	date := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000`
	out, err := admin.run(cliRow{args: []string{"pg:backups", "-a", "owner-db"}})
	if e := holdsLines(out, []string{"=== Restores", `~ +r002 +` + date + ` +Running \(processed \d+(\.\d\d)?[KM]?B\) +\d+(\.\d\d)?[KM]?B +DATABASE *`}); err != nil || e != nil {
		t.Errorf("heroku pg:backups during the restore: %v %v\n%s", err, e, out)
	}

	// Hostile: a stranger; the restore through an app it is not of.
	stranger := d.heroku(t, cli, "stranger")
	if out, err := stranger.run(cliRow{args: []string{"pg:backups:cancel", "r002", "-a", "owner-db"}}); err == nil || !hasLine(out, " ›   Error: You do not have access to the app owner-db.") {
		t.Errorf("stranger: heroku pg:backups:cancel r002: %v\n%s", err, out)
	}
	for _, c := range []struct {
		who, app string
		want     int
	}{{"stranger", "owner-db", 403}, {"member", "lone-db", 403}, {"", "lone-db", 404}} {
		path := "/client/v11/apps/" + c.app + "/transfers/" + r002.UUID + "/actions/cancel"
		var code int
		var body string
		if c.who == "" {
			code, body = s.api(t, "POST", path, "")
		} else {
			code, body = d.apiAs(t, c.who, "POST", path, "")
		}
		if code != c.want {
			t.Errorf("%s: POST %s: %d %s, want %d", c.who, path, code, body, c.want)
		}
	}
	if out, err := s.run("pg:backups:cancel", "r002", "-a", "lone-db"); err == nil || !hasLine(out, " ▸    lone-db has no backup, restore or copy r002: `hako pg:backups -a lone-db` lists them.") {
		t.Errorf("hako pg:backups:cancel r002 -a lone-db: %v\n%s", err, out)
	}
	if out, err := s.run("pg:backups:restore", "b001", "-a", "owner-db", "--confirm", "owner-db"); err == nil ||
		!hasLine(out, " ▸    Restore r002 into "+d.addon+" is running: wait for it to finish, or stop it with pg:backups:cancel r002.") {
		t.Errorf("a second restore while r002 runs: %v\n%s", err, out)
	}
	if list := transferList(t, d, "", "owner-db"); len(list) != 2 || !blocked() {
		t.Fatalf("after the refusals: %+v, want the restore still running", list)
	}

	start := time.Now()
	out, err = admin.run(cliRow{args: []string{"pg:backups:cancel", "-a", "owner-db"}})
	if e := holdsLines(out, []string{"Cancelling r002... done"}); err != nil || e != nil {
		t.Errorf("heroku pg:backups:cancel: %v %v\n%s", err, e, out)
	}
	t.Logf("heroku pg:backups:cancel of the held restore: %s", time.Since(start).Round(time.Millisecond))
	select {
	case r := <-restored:
		if e := holdsLines(r.out, []string{"~ +Error: +An error occurred and the backup did not finish.", "~ *Restore r002 was canceled \\(pg:backups:cancel\\): DATABASE was not changed\\."}); r.err == nil || e != nil {
			t.Errorf("the canceled heroku pg:backups:restore: %v %v\n%s", r.err, e, r.out)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the CLI's restore did not end after its cancel")
	}
	check := func(when string) {
		t.Helper()
		if got := s.psqlValue(t, "owner-db", rows); got != "beta,gamma" {
			t.Errorf("%s: items = %q, want the data from before the restore", when, got)
		}
		if n := restoring(); n != "0" {
			t.Errorf("%s: %s half-restored databases left", when, n)
		}
		select {
		case err := <-lockDone:
			t.Fatalf("%s: the test's connection to the database ended (%v): it was replaced", when, err)
		default:
		}
	}
	check("after the cancel")
	out, err = admin.run(cliRow{args: []string{"pg:backups:info", "r002", "-a", "owner-db"}})
	if e := holdsLines(out, []string{"=== Backup r002", "~Database: +owner-db::b001", "~Status: +Canceled", "=== Backup Logs"}); err != nil || e != nil {
		t.Errorf("heroku pg:backups:info r002: %v %v\n%s", err, e, out)
	}
	out, err = admin.run(cliRow{args: []string{"pg:backups", "-a", "owner-db"}})
	if e := holdsLines(out, []string{"=== Restores", `~ +r002 +` + date + ` +Failed ` + date + ` +\d+(\.\d\d)?[KM]?B +DATABASE *`}); err != nil || e != nil {
		t.Errorf("heroku pg:backups after the cancel: %v %v\n%s", err, e, out)
	}
	if out, err := admin.run(cliRow{args: []string{"pg:backups:cancel", "r002", "-a", "owner-db"}}); err == nil || !hasLine(out, " ›   Error: Restore r002 has ended: only a running transfer can be canceled.") {
		t.Errorf("heroku pg:backups:cancel of the canceled r002: %v\n%s", err, out)
	}

	// hako's own verbs, on a second restore held up by the same lock.
	go func() {
		out, err := s.run("pg:backups:restore", "b001", "-a", "owner-db", "--confirm", "owner-db")
		restored <- result{out, err}
	}()
	waitFor(t, 30*time.Second, "a second restore waiting on the lock", func() bool {
		return len(transferList(t, d, "", "owner-db")) == 3 && blocked()
	})
	start = time.Now()
	if out := s.hako(t, "pg:backups:cancel", "r003", "-a", "owner-db"); !hasLine(out, "Canceled r003 of ⬢ owner-db.") {
		t.Errorf("hako pg:backups:cancel r003:\n%s", out)
	}
	t.Logf("hako pg:backups:cancel r003 of the held restore: %s", time.Since(start).Round(time.Millisecond))
	if r := <-restored; r.err == nil || !hasLine(r.out, " ▸    Restore r003 was canceled (pg:backups:cancel): DATABASE was not changed.") {
		t.Errorf("the canceled hako pg:backups:restore: %v\n%s", r.err, r.out)
	}
	check("after the second cancel")
	iso := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`
	if err := admin.hakoHas([]string{"pg:backups", "-a", "owner-db"}, "=== ⬢ owner-db Restores, copies and failed backups",
		`~r003 +`+iso+` +canceled `+iso+` +owner-db::b001 +DATABASE +`+d.addon, `~r002 +`+iso+` +canceled `+iso+` +owner-db::b001 +DATABASE +`+d.addon); err != nil {
		t.Error(err)
	}
	if out, err := s.run("pg:backups:cancel", "r003", "-a", "owner-db"); err == nil || !hasLine(out, " ▸    Restore r003 has ended: only a running transfer can be canceled.") {
		t.Errorf("hako pg:backups:cancel of the canceled r003: %v\n%s", err, out)
	}
	if out, err := s.run("pg:backups:cancel", "r099", "-a", "owner-db"); err == nil || !hasLine(out, " ▸    owner-db has no backup, restore or copy r099: `hako pg:backups -a owner-db` lists them.") {
		t.Errorf("hako pg:backups:cancel r099: %v\n%s", err, out)
	}

	// A third restore, held, when the server stops: it is stopped, the
	// database as it was, and after the restart listed failed, saying so.
	go func() {
		out, err := admin.run(cliRow{args: []string{"pg:backups:restore", "b001", "DATABASE_URL", "-a", "owner-db", "--confirm", "owner-db"}, timeout: 120 * time.Second})
		restored <- result{out, err}
	}()
	waitFor(t, 30*time.Second, "a third restore waiting on the lock", func() bool {
		return len(transferList(t, d, "", "owner-db")) == 4 && blocked()
	})
	s.stop()
	// The lock's session ended with the server's PostgreSQL.
	<-lockDone
	lockDone <- nil
	s.start()
	if r := <-restored; r.err == nil {
		t.Errorf("the restore cut by the server's stop succeeded:\n%s", r.out)
	}
	if got := s.psqlValue(t, "owner-db", rows); got != "beta,gamma" {
		t.Errorf("after the server's stop during a restore: items = %q", got)
	}
	out, err = admin.run(cliRow{args: []string{"pg:backups:info", "r004", "-a", "owner-db"}})
	if e := holdsLines(out, []string{"=== Backup r004", "~Status: +Failed", "=== Backup Logs", "~" + date + " Restore r004 was stopped by the server's stop: DATABASE was not changed."}); err != nil || e != nil {
		t.Errorf("heroku pg:backups:info r004 after the restart: %v %v\n%s", err, e, out)
	}

	// Without the lock, a restore goes through, as r005.
	out, err = admin.run(cliRow{args: []string{"pg:backups:restore", "b001", "DATABASE_URL", "-a", "owner-db", "--confirm", "owner-db"}})
	if e := holdsLines(out, []string{"Restoring... done"}); err != nil || e != nil {
		t.Errorf("heroku pg:backups:restore without the lock: %v %v\n%s", err, e, out)
	}
	if got := s.psqlValue(t, "owner-db", rows); got != "alpha,beta,gamma" {
		t.Errorf("after the restore: items = %q", got)
	}
	if list := transferList(t, d, "", "owner-db"); len(list) != 5 {
		t.Errorf("transfers: %+v, want b001, r002, r003, r004, r005", list)
	}
}
