package e2e

import (
	"strings"
	"testing"
)

// TestHerokuCLIPGBackupsSchedule: the heroku CLI's pg:backups:schedule
// sets a daily backup that `heroku pg:backups:schedules` and `hako
// pg:backups:schedules` list, on the database's owner and on an app it
// is attached to; it survives a restart of the server; bad input (an
// hour past 23, an unknown time zone, a database the app does not have)
// is refused with a message and changes nothing; a stranger can neither
// see nor set one; unschedule removes it. (The runs themselves are
// TestBackupsRound's, on a clock of its own.)
func TestHerokuCLIPGBackupsSchedule(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "psql", "pg_dump", "pg_restore")
	d := newAttachedDB(t)
	s := d.s
	admin := d.heroku(t, cli, "admin")
	member := d.heroku(t, cli, "member")
	stranger := d.heroku(t, cli, "stranger")
	run := func(h *herokuEnv, args ...string) (string, error) {
		t.Helper()
		return h.run(cliRow{args: args})
	}
	must := func(h *herokuEnv, args []string, lines ...string) {
		t.Helper()
		out, err := run(h, args...)
		if e := holdsLines(out, lines); err != nil || e != nil {
			t.Errorf("heroku %s: %v %v\n%s", strings.Join(args, " "), err, e, out)
		}
	}
	a := func(args ...string) []string { return args }

	must(admin, a("pg:backups:schedules", "-a", "owner-db"), " ›   Warning: No backup schedules found on owner-db")
	must(admin, a("pg:backups:schedule", "DATABASE_URL", "--at", "02:00 Europe/Paris", "-a", "owner-db"),
		"Scheduling automatic daily backups of "+d.addon+" at 02:00 Europe/Paris... done")
	must(admin, a("pg:backups:schedules", "-a", "owner-db"), "=== Backup Schedules", "DATABASE_URL: daily at 2:00 Europe/Paris")
	// Through the app it is attached to, the member sees it (the heroku
	// CLI's pg:backups:schedules looks only at databases the app owns, on
	// Heroku too: hako's command and the Data API show it).
	if out, err := s.ssh(d.keys["member"], nil, "pg:backups:schedules", "-a", "uses-db"); err != nil || !hasLine(out, "DATABASE_URL: daily at 2:00 Europe/Paris ("+d.addon+")") {
		t.Errorf("member: hako pg:backups:schedules -a uses-db: %v\n%s", err, out)
	}
	if code, body := d.apiAs(t, "member", "GET", "/client/v11/databases/"+d.addon+"/transfer-schedules", ""); code != 200 || !strings.Contains(compactJSON(body), `"name":"DATABASE_URL","hour":2,`) {
		t.Errorf("member: GET transfer-schedules: %d %s", code, body)
	}

	// Bad input: refused, the schedule as it was.
	for _, c := range []struct{ body, want string }{
		{`{"hour": "24", "timezone": "UTC", "schedule_name": "DATABASE_URL"}`, `{"id":"invalid_params","message":"The hour \"24\" is not valid: give one from 0 to 23, as --at '02:00 UTC'."}`},
		{`{"hour": "3", "timezone": "Mars/Olympus_Mons", "schedule_name": "DATABASE_URL"}`, `{"id":"invalid_params","message":"The time zone \"Mars/Olympus_Mons\" is unknown: give an IANA name such as UTC or Europe/Paris."}`},
		{`{"hour": "3", "timezone": "../../etc/passwd", "schedule_name": "DATABASE_URL"}`, `{"id":"invalid_params","message":"The time zone \"../../etc/passwd\" is not valid: give an IANA name such as UTC or Europe/Paris."}`},
	} {
		if code, body := d.apiAs(t, "member", "POST", "/client/v11/databases/"+d.addon+"/transfer-schedules", c.body); code != 422 || compactJSON(body) != c.want {
			t.Errorf("member: POST %s: %d %s, want 422 %s", c.body, code, body, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{a("pg:backups:schedule", "--at", "2:00 Nowhere/Atall", "-a", "owner-db"), " ▸    The time zone \"Nowhere/Atall\" is unknown: give an IANA name such as UTC or Europe/Paris."},
		{a("pg:backups:schedule", "--at", "25:00", "-a", "owner-db"), " ▸    Invalid schedule format \"25:00\": expected --at '[HOUR]:00 [TIMEZONE]', as '02:00 UTC'."},
		{a("pg:backups:schedule", "NOPE_DB", "--at", "03:00", "-a", "owner-db"), " ▸    Unknown database: NOPE_DB. Valid options are: DATABASE"},
	} {
		if out, err := s.run(c.args...); err == nil || !hasLine(out, c.want) {
			t.Errorf("hako %s: %v\n%s\nwant the line %q", strings.Join(c.args, " "), err, out, c.want)
		}
	}
	if out, err := run(admin, "pg:backups:schedule", "NOPE_DB", "--at", "03:00", "-a", "owner-db"); err == nil {
		t.Errorf("heroku pg:backups:schedule NOPE_DB: no error\n%s", out)
	}
	// A stranger sees nothing and sets nothing.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/client/v11/databases/" + d.addon + "/transfer-schedules", ""},
		{"POST", "/client/v11/databases/" + d.addon + "/transfer-schedules", `{"hour": "5", "timezone": "UTC", "schedule_name": "DATABASE_URL"}`},
		{"DELETE", "/client/v11/databases/" + d.addon + "/transfer-schedules/x", ""},
		{"GET", "/apps/owner-db/pg-schedules", ""},
		{"POST", "/apps/owner-db/pg-schedules", `{"at": "05:00"}`},
		{"DELETE", "/apps/owner-db/pg-schedules/DATABASE", ""},
	} {
		if code, body := d.apiAs(t, "stranger", c.method, c.path, c.body); code != 403 && code != 404 {
			t.Errorf("stranger: %s %s: %d %s", c.method, c.path, code, body)
		}
	}
	if out, err := run(stranger, "pg:backups:schedule", "--at", "05:00", "-a", "owner-db"); err == nil || !hasLine(out, " ›   Error: You do not have access to the app owner-db.") {
		t.Errorf("stranger: heroku pg:backups:schedule: %v\n%s", err, out)
	}

	// It survives a restart, unchanged by the refusals.
	s.stop()
	s.start()
	must(admin, a("pg:backups:schedules", "-a", "owner-db"), "=== Backup Schedules", "DATABASE_URL: daily at 2:00 Europe/Paris")

	// Rescheduled by the member through uses-db: one schedule, replaced.
	must(member, a("pg:backups:schedule", "SHARED_DB", "--at", "14:00 PST", "-a", "uses-db"),
		"Scheduling automatic daily backups of "+d.addon+" at 14:00 America/Los_Angeles... done")
	must(admin, a("pg:backups:schedules", "-a", "owner-db"), "=== Backup Schedules", "SHARED_DB_URL: daily at 14:00 America/Los_Angeles")
	must(member, a("pg:backups:unschedule", "SHARED_DB", "-a", "uses-db"), "Unscheduling SHARED_DB daily backups... done")
	must(admin, a("pg:backups:schedules", "-a", "owner-db"), " ›   Warning: No backup schedules found on owner-db")

	// hako's own verbs.
	if out := s.hako(t, "pg:backups:schedule", "--at", "03:00", "-a", "owner-db"); !hasLine(out, "Scheduled daily backups of DATABASE on ⬢ owner-db at 03:00 UTC.") {
		t.Errorf("hako pg:backups:schedule:\n%s", out)
	}
	if out := s.hako(t, "pg:backups:unschedule", "-a", "owner-db"); !hasLine(out, "Stopped the daily backups of DATABASE on ⬢ owner-db.") {
		t.Errorf("hako pg:backups:unschedule:\n%s", out)
	}
	if out := s.hako(t, "pg:backups:schedules", "-a", "owner-db"); !hasLine(out, "No backup schedules on ⬢ owner-db: `hako pg:backups:schedule -a owner-db --at '02:00 UTC'` sets one.") {
		t.Errorf("hako pg:backups:schedules after unschedule:\n%s", out)
	}
}
