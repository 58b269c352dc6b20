package e2e

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestHerokuCLIPGBackupsThroughAttachment: the heroku CLI's
// pg:backups:capture, run by a member of uses-db only on the database
// owner-db shares with it as SHARED_DB, polls the backup under the
// owning app's name (owner-db), as Heroku lets it: the capture finishes
// at once. Under owner-db's name the member sees that database's
// transfers and no other's (owner-db's PRIVATE_DB's stay hidden, by list
// and by uuid); a stranger, with access to no app the database is
// attached to, is refused everything and learns nothing.
func TestHerokuCLIPGBackupsThroughAttachment(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "psql", "pg_dump", "pg_restore")
	d := newAttachedDB(t)
	s := d.s
	s.psqlValue(t, "owner-db", seed)
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "owner-db", "--as", "PRIVATE_DB")
	s.hako(t, "pg:backups:capture", "PRIVATE_DB", "-a", "owner-db")
	private := transferList(t, d, "", "owner-db")
	if len(private) != 1 || private[0].FromName != "PRIVATE_DB" {
		t.Fatalf("owner-db's transfers: %+v", private)
	}

	member := d.heroku(t, cli, "member")
	// Without the member's view of owner-db's transfers, the CLI retries
	// its poll for a minute and fails: 40 s is plenty for a small dump.
	start := time.Now()
	out, err := member.run(cliRow{args: []string{"pg:backups:capture", "SHARED_DB", "-a", "uses-db"}, timeout: 40 * time.Second})
	if e := holdsLines(out, []string{"Backing up SHARED_DB to b001... done"}); err != nil || e != nil {
		t.Fatalf("member: heroku pg:backups:capture SHARED_DB -a uses-db (%s): %v %v\n%s", time.Since(start).Round(time.Millisecond), err, e, out)
	}
	t.Logf("member's capture through uses-db, polled under owner-db: %s", time.Since(start).Round(time.Millisecond))

	// Under owner-db's name: the shared database's backup, not PRIVATE_DB's.
	got := transferList(t, d, "member", "owner-db")
	if len(got) != 1 || got[0].FromName != "DATABASE" || got[0].Num != 1 {
		t.Errorf("member: owner-db's transfers: %+v, want only DATABASE's b001", got)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/client/v11/apps/owner-db/transfers/" + got[0].UUID, 200},
		{"GET", "/client/v11/apps/owner-db/transfers/" + private[0].UUID, 404},
		{"POST", "/client/v11/apps/owner-db/transfers/" + private[0].UUID + "/actions/public-url", 404},
		{"DELETE", "/client/v11/apps/owner-db/transfers/" + private[0].UUID, 404},
		{"GET", "/client/v11/apps/lone-db/transfers", 403},
	} {
		if code, body := d.apiAs(t, "member", c.method, c.path, ""); code != c.want {
			t.Errorf("member: %s %s: %d %s, want %d", c.method, c.path, code, body, c.want)
		}
	}

	// A stranger: the same refusal whatever exists, no transfer named.
	for _, app := range []string{"owner-db", "uses-db"} {
		want := `{"id":"forbidden","message":"You do not have access to the app ` + app + `."}`
		for _, c := range []struct{ method, path string }{
			{"GET", "/client/v11/apps/" + app + "/transfers"},
			{"GET", "/client/v11/apps/" + app + "/transfers/" + got[0].UUID},
			{"GET", "/client/v11/apps/" + app + "/transfers/" + private[0].UUID},
			{"GET", "/client/v11/apps/" + app + "/transfers/1"},
			{"GET", "/client/v11/apps/" + app + "/transfers/999"},
			{"POST", "/client/v11/apps/" + app + "/transfers/1/actions/public-url"},
			{"DELETE", "/client/v11/apps/" + app + "/transfers/1"},
		} {
			if code, body := d.apiAs(t, "stranger", c.method, c.path, ""); code != 403 || compactJSON(body) != want {
				t.Errorf("stranger: %s %s: %d %s, want 403 %s", c.method, c.path, code, body, want)
			}
		}
	}
	stranger := d.heroku(t, cli, "stranger")
	out, err = stranger.run(cliRow{args: []string{"pg:backups:info", "b001", "-a", "owner-db"}})
	if err == nil || !hasLine(out, " ›   Error: You do not have access to the app owner-db.") {
		t.Errorf("stranger: heroku pg:backups:info b001 -a owner-db: %v\n%s", err, out)
	}
	// Nothing was deleted on the way.
	if got := transferList(t, d, "", "owner-db"); len(got) != 2 {
		t.Errorf("owner-db's transfers after the refusals: %+v", got)
	}
}

// transfer is the part of a Data API transfer the tests read.
type transfer struct {
	UUID       string  `json:"uuid"`
	Num        int     `json:"num"`
	FromName   string  `json:"from_name"`
	FromType   string  `json:"from_type"`
	ToType     string  `json:"to_type"`
	FinishedAt string  `json:"finished_at"`
	Succeeded  bool    `json:"succeeded"`
	CanceledAt *string `json:"canceled_at"`
}

// transferList is app's transfers as who (or the administrator, for "")
// gets them, sorted by uuid.
func transferList(t *testing.T, d *attachedDB, who, app string) []transfer {
	t.Helper()
	var code int
	var body string
	if who == "" {
		code, body = d.s.api(t, "GET", "/client/v11/apps/"+app+"/transfers", "")
	} else {
		code, body = d.apiAs(t, who, "GET", "/client/v11/apps/"+app+"/transfers", "")
	}
	var list []transfer
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("%s: GET transfers of %s: %d %s", who, app, code, body)
	}
	slices.SortFunc(list, func(a, b transfer) int { return strings.Compare(a.UUID, b.UUID) })
	return list
}

// TestHerokuCLIPGBackupsCancel: a capture held up by a lock runs; the
// Data API lists it as running (no finished_at). A stranger's
// `heroku pg:backups:cancel` is refused and the capture goes on; a member
// of uses-db, which the database is attached to, cancels it: the capture
// fails saying so, its partial file is gone, it stays listed canceled,
// and a second cancel finds nothing to stop. `hako pg:backups:cancel` does the same,
// on a second capture numbered b002: a canceled capture's number is not
// given again. After a server restart both are still listed, Failed,
// and described as Canceled; they are neither restored nor downloaded,
// and the next capture is b003.
func TestHerokuCLIPGBackupsCancel(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "psql", "pg_dump", "pg_restore")
	d := newAttachedDB(t)
	s := d.s
	s.psqlValue(t, "owner-db", seed)
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "owner-db"))
	lock := exec.Command("psql", dbURL, "-X", "-c", "begin; lock table items in access exclusive mode; select pg_sleep(120);")
	if err := lock.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Process.Kill(); _ = lock.Wait() })
	waitFor(t, 20*time.Second, "the lock on items", func() bool {
		return s.psqlValue(t, "owner-db", "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'items' and l.mode = 'AccessExclusiveLock' and l.granted") == "1"
	})
	type result struct {
		out string
		err error
	}
	captured := make(chan result, 1)
	go func() {
		out, err := s.run("pg:backups:capture", "-a", "owner-db")
		captured <- result{out, err}
	}()
	waitFor(t, 20*time.Second, "a running transfer", func() bool {
		list := transferList(t, d, "", "owner-db")
		return len(list) == 1 && list[0].FinishedAt == "" && !list[0].Succeeded
	})

	if out := s.hako(t, "pg:backups", "-a", "owner-db"); !hasLineMatch(out, `b001\s+\S+\s+\d+(\.\d)?[kM]?B so far, running\s+`+d.addon) {
		t.Errorf("hako pg:backups during the capture:\n%s", out)
	}
	member := d.heroku(t, cli, "member")
	out, err := member.run(cliRow{args: []string{"pg:backups", "-a", "uses-db"}})
	if err != nil || !hasLineMatch(out, ` +b001 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 +Running \(processed \d+(\.\d\d)?[KM]?B\) +\d+(\.\d\d)?[KM]?B +SHARED_DB *`) {
		t.Errorf("member: heroku pg:backups -a uses-db during the capture: %v\n%s", err, out)
	}
	stranger := d.heroku(t, cli, "stranger")
	out, err = stranger.run(cliRow{args: []string{"pg:backups:cancel", "-a", "owner-db"}})
	if err == nil || !hasLine(out, " ›   Error: You do not have access to the app owner-db.") {
		t.Errorf("stranger: heroku pg:backups:cancel -a owner-db: %v\n%s", err, out)
	}
	running := transferList(t, d, "", "owner-db")
	if code, body := d.apiAs(t, "stranger", "POST", "/client/v11/apps/owner-db/transfers/"+running[0].UUID+"/actions/cancel", ""); code != 403 {
		t.Errorf("stranger: POST cancel: %d %s", code, body)
	}
	if list := transferList(t, d, "", "owner-db"); len(list) != 1 || list[0].FinishedAt != "" {
		t.Fatalf("after the stranger's cancel: %+v, want the capture still running", list)
	}

	out, err = member.run(cliRow{args: []string{"pg:backups:cancel", "-a", "uses-db"}})
	if e := holdsLines(out, []string{"Cancelling b001... done"}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups:cancel -a uses-db: %v %v\n%s", err, e, out)
	}
	select {
	case r := <-captured:
		if r.err == nil || !hasLineMatch(r.out, ` ▸    The backup b001 of \w+ was canceled \(pg:backups:cancel\)\.`) {
			t.Errorf("the canceled capture: %v\n%s", r.err, r.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the capture did not end after its cancel")
	}
	// The canceled capture stays listed, failed and canceled, under its
	// number (Heroku's failed backups are listed).
	if list := transferList(t, d, "", "owner-db"); len(list) != 1 || list[0].Num != 1 || list[0].FinishedAt == "" || list[0].Succeeded || list[0].CanceledAt == nil {
		t.Errorf("transfers after the cancel: %+v, want b001 canceled", list)
	}
	// hako's own verb, on a second capture held up by the same lock.
	go func() {
		out, err := s.run("pg:backups:capture", "-a", "owner-db")
		captured <- result{out, err}
	}()
	waitFor(t, 20*time.Second, "a second running transfer", func() bool {
		list := transferList(t, d, "", "owner-db")
		return len(list) == 2 && slices.ContainsFunc(list, func(x transfer) bool { return x.Num == 2 && x.FinishedAt == "" })
	})
	// The canceled b001's number is not given again.
	if out := s.hako(t, "pg:backups:cancel", "-a", "owner-db"); !hasLine(out, "Canceled b002 of ⬢ owner-db.") {
		t.Errorf("hako pg:backups:cancel -a owner-db:\n%s", out)
	}
	if r := <-captured; r.err == nil {
		t.Errorf("the second capture, canceled, succeeded:\n%s", r.out)
	}
	if out, err := s.run("pg:backups:cancel", "-a", "owner-db"); err == nil || !hasLine(out, " ▸    No backup, restore or copy of owner-db is running.") {
		t.Errorf("hako pg:backups:cancel with nothing running: %v\n%s", err, out)
	}
	out, err = member.run(cliRow{args: []string{"pg:backups:cancel", "-a", "uses-db"}})
	if err == nil || !hasLine(out, " ›   Error: No active backups/transfers") {
		t.Errorf("member: a second cancel: %v\n%s", err, out)
	}

	// Both canceled captures are kept across a server restart, listed
	// failed under their numbers and described as canceled.
	_ = lock.Process.Kill()
	s.psqlValue(t, "owner-db", "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(120)%' and pid <> pg_backend_pid()")
	s.stop()
	s.start()
	date := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000`
	out, err = member.run(cliRow{args: []string{"pg:backups", "-a", "owner-db"}})
	if e := holdsLines(out, []string{"=== Backups", `~ +b002 +` + date + ` +Failed ` + date + ` +0\.00B +DATABASE *`, `~ +b001 +` + date + ` +Failed ` + date + ` +0\.00B +DATABASE *`}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups -a owner-db after a restart: %v %v\n%s", err, e, out)
	}
	out, err = member.run(cliRow{args: []string{"pg:backups:info", "b001", "-a", "owner-db"}})
	if e := holdsLines(out, []string{"=== Backup b001", "~Status: +Canceled", "=== Backup Logs", "~" + date + " The backup b001 of \\w+ was canceled \\(pg:backups:cancel\\)\\."}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups:info b001 after a restart: %v %v\n%s", err, e, out)
	}
	// Neither restored nor downloaded; the next capture is b003.
	if out, err := member.run(cliRow{args: []string{"pg:backups:restore", "b001", "SHARED_DB", "-a", "uses-db", "--confirm", "uses-db"}}); err == nil {
		t.Errorf("member: restore of the canceled b001: no error\n%s", out)
	}
	if out, err := member.run(cliRow{args: []string{"pg:backups:url", "b001", "-a", "owner-db"}}); err == nil || !hasLine(out, " ›   Error: b001 has no dump to download: only a finished backup has one.") {
		t.Errorf("member: url of the canceled b001: %v\n%s", err, out)
	}
	if out := s.hako(t, "pg:backups:capture", "-a", "owner-db"); !hasLineMatch(out, `Backing up DATABASE of ⬢ owner-db\.\.\. done, b003 .*`) {
		t.Errorf("the capture after the restart:\n%s", out)
	}
}
