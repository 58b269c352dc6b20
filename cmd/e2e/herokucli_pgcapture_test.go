package e2e

import (
	"encoding/json"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// holdItems starts a session holding an exclusive lock on owner-db's
// items table, which holds up a pg_dump of it until release is called
// (which ends the session's backend: one asleep does not notice its
// client gone).
func holdItems(t *testing.T, d *attachedDB) (release func()) {
	t.Helper()
	s := d.s
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "owner-db"))
	lock := exec.Command("psql", dbURL, "-X", "-c", "begin; lock table items in access exclusive mode; select pg_sleep(120);")
	if err := lock.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			s.psqlValue(t, "owner-db", "select count(pg_terminate_backend(l.pid)) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'items' and l.mode = 'AccessExclusiveLock' and l.granted")
			_ = lock.Process.Kill()
			_ = lock.Wait()
		}
	}
	t.Cleanup(release)
	waitFor(t, 20*time.Second, "the lock on items", func() bool {
		return s.psqlValue(t, "owner-db", "select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = 'items' and l.mode = 'AccessExclusiveLock' and l.granted") == "1"
	})
	return release
}

// transferNum finds transfer num in list.
func transferNum(list []transfer, num int) (transfer, bool) {
	for _, x := range list {
		if x.Num == num {
			return x, true
		}
	}
	return transfer{}, false
}

// TestHerokuCLIPGCaptureDetached: a capture through the Data API runs on
// the server, as on Heroku, whatever becomes of its client. A member of
// uses-db sends the capture and hangs up before any answer: the backup
// (b001), held up by a lock, is listed as running; a second capture of
// the database meanwhile is refused with a clear error, by the Data API
// (409), the heroku CLI and hako's own verb, and takes no number. Once
// the lock goes, b001 completes. Then the heroku CLI's capture is
// interrupted (SIGINT, a Ctrl-C) while it polls: its backup, b002, goes
// on and completes too. A third, canceled, is found canceled by the
// polling, and the next capture is b004.
func TestHerokuCLIPGCaptureDetached(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "psql", "pg_dump", "pg_restore")
	d := newAttachedDB(t)
	s := d.s
	s.psqlValue(t, "owner-db", seed)
	release := holdItems(t, d)

	// The hostile client: the request, then the connection closed.
	conn, err := net.Dial("tcp", "127.0.0.1:"+s.apiPort)
	if err != nil {
		t.Fatal(err)
	}
	req := "POST /client/v11/databases/" + d.addon + "/backups HTTP/1.1\r\nHost: 127.0.0.1:" + s.apiPort +
		"\r\nAuthorization: Bearer " + d.tokens["member"] + "\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitFor(t, 30*time.Second, "b001 running", func() bool {
		list := transferList(t, d, "member", "owner-db")
		x, ok := transferNum(list, 1)
		return len(list) == 1 && ok && x.FinishedAt == "" && !x.Succeeded
	})

	code, body := d.apiAs(t, "member", "POST", "/client/v11/databases/"+d.addon+"/backups", "")
	var refusal struct{ ID, Message string }
	if err := json.Unmarshal([]byte(body), &refusal); err != nil || code != 409 || refusal.ID != "conflict" ||
		!regexp.MustCompile(`^A backup of \w+ is already being taken \(b001\): wait for it to finish, or stop it with pg:backups:cancel\.$`).MatchString(refusal.Message) {
		t.Errorf("a second capture through the Data API: %d %s", code, body)
	}
	member := d.heroku(t, cli, "member")
	out, err := member.run(cliRow{args: []string{"pg:backups:capture", "SHARED_DB", "-a", "uses-db"}})
	if err == nil || !hasLineMatch(out, ` ›   Error: A backup of \w+ is already being taken \(b001\): ?`) ||
		!hasLine(out, " ›   wait for it to finish, or stop it with pg:backups:cancel.") || !hasLine(out, " ›   Error ID: conflict") {
		t.Errorf("heroku pg:backups:capture during a capture: %v\n%s", err, out)
	}
	if out, err := s.run("pg:backups:capture", "-a", "owner-db"); err == nil || !hasLineMatch(out, ` ▸    A backup of \w+ is already being taken \(b001\): wait for it to finish, or stop it with pg:backups:cancel\.`) {
		t.Errorf("hako pg:backups:capture during a capture: %v\n%s", err, out)
	}
	if list := transferList(t, d, "", "owner-db"); len(list) != 1 {
		t.Errorf("transfers after the refused captures: %+v, want b001 alone", list)
	}

	release()
	waitFor(t, 60*time.Second, "b001 completed", func() bool {
		x, ok := transferNum(transferList(t, d, "member", "owner-db"), 1)
		return ok && x.FinishedAt != "" && x.Succeeded
	})
	out, err = member.run(cliRow{args: []string{"pg:backups", "-a", "owner-db"}})
	if err != nil || !hasLineMatch(out, ` +b001 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 +Completed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 +\d+(\.\d\d)?[KM]?B +DATABASE *`) {
		t.Errorf("heroku pg:backups -a owner-db after the detached capture: %v\n%s", err, out)
	}

	// The heroku CLI interrupted while it polls.
	release = holdItems(t, d)
	c := exec.Command(cli, "pg:backups:capture", "SHARED_DB", "-a", "uses-db")
	c.Env, c.Dir = member.env(), member.home
	var cliOut lockedBuffer
	c.Stdout, c.Stderr = &cliOut, &cliOut
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	waitFor(t, 60*time.Second, "b002 running", func() bool {
		x, ok := transferNum(transferList(t, d, "", "owner-db"), 2)
		return ok && x.FinishedAt == ""
	}, cliOut.String)
	waitFor(t, 30*time.Second, "the CLI polling", func() bool {
		return hasLine(cliOut.String(), "Use Ctrl-C at any time to stop monitoring progress; the backup will continue running.")
	}, cliOut.String)
	_ = c.Process.Signal(syscall.SIGINT)
	_ = c.Wait()
	if x, ok := transferNum(transferList(t, d, "", "owner-db"), 2); !ok || x.FinishedAt != "" {
		t.Fatalf("b002 after the CLI's Ctrl-C: %+v, want it running", x)
	}
	release()
	waitFor(t, 60*time.Second, "b002 completed", func() bool {
		x, ok := transferNum(transferList(t, d, "", "owner-db"), 2)
		return ok && x.FinishedAt != "" && x.Succeeded
	})

	// A capture through the Data API canceled: the polling finds it
	// finished, failed and canceled, and its number is not given again.
	release = holdItems(t, d)
	code, body = d.apiAs(t, "member", "POST", "/client/v11/databases/"+d.addon+"/backups", "")
	var b003 transfer
	if err := json.Unmarshal([]byte(body), &b003); err != nil || code != 201 || b003.Num != 3 || b003.FinishedAt != "" {
		t.Fatalf("a third capture: %d %s", code, body)
	}
	out, err = member.run(cliRow{args: []string{"pg:backups:cancel", "-a", "uses-db"}})
	if e := holdsLines(out, []string{"Cancelling b003... done"}); err != nil || e != nil {
		t.Errorf("member: heroku pg:backups:cancel: %v %v\n%s", err, e, out)
	}
	code, body = d.apiAs(t, "member", "GET", "/client/v11/apps/owner-db/transfers/"+b003.UUID, "")
	var polled transfer
	if err := json.Unmarshal([]byte(body), &polled); err != nil || code != 200 || polled.FinishedAt == "" || polled.Succeeded || polled.CanceledAt == nil {
		t.Errorf("polling the canceled b003: %d %s", code, body)
	}
	release()
	s.hako(t, "pg:backups:capture", "-a", "owner-db")
	if _, ok := transferNum(transferList(t, d, "", "owner-db"), 4); !ok {
		t.Errorf("the capture after the canceled b003 is not b004: %+v", transferList(t, d, "", "owner-db"))
	}
}
