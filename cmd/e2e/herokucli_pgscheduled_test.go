package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHerokuCLIPGScheduledBackupNames: a scheduled backup is named as
// Heroku names it, aNNN, in the one sequence of numbers it shares with
// those captured by hand (bNNN), and its transfer carries its schedule,
// from which the heroku CLI names it: `heroku pg:backups` lists a002
// beside b001, `heroku pg:backups:info a002` says Scheduled, and the
// next capture is b003. The scheduler's run itself, on a clock of the
// test's, is TestBackupSchedule's and its naming TestBackupNumbers's:
// here the run's result is laid down as the provider lays it (the
// backup's file a002.dump and the last number given), as if 02:00 had
// come.
func TestHerokuCLIPGScheduledBackupNames(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "psql", "pg_dump", "pg_restore")
	d := newAttachedDB(t)
	s := d.s
	s.psqlValue(t, "owner-db", seed)
	admin := d.heroku(t, cli, "admin")
	must := func(args []string, lines ...string) {
		t.Helper()
		out, err := admin.run(cliRow{args: args})
		if e := holdsLines(out, lines); err != nil || e != nil {
			t.Errorf("heroku %s: %v %v\n%s", strings.Join(args, " "), err, e, out)
		}
	}
	a := func(args ...string) []string { return args }
	must(a("pg:backups:schedule", "DATABASE_URL", "--at", "02:00 UTC", "-a", "owner-db"),
		"Scheduling automatic daily backups of "+d.addon+" at 02:00 UTC... done")
	s.hako(t, "pg:backups:capture", "-a", "owner-db")

	b001, err := filepath.Glob(filepath.Join(s.home, "addons", "postgres", "backups", "*", "b001.dump"))
	if err != nil || len(b001) != 1 {
		t.Fatalf("b001's file: %v %v", b001, err)
	}
	dir := filepath.Dir(b001[0])
	dump, err := os.ReadFile(b001[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a002.dump"), dump, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "last"), []byte("2\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	must(a("pg:backups", "-a", "owner-db"), "=== Backups",
		`~ +b001 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 +Completed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 +\d+(\.\d\d)?[KM]?B +DATABASE *`,
		`~ +a002 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 +Completed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 +\d+(\.\d\d)?[KM]?B +DATABASE *`)
	must(a("pg:backups:info", "a002", "-a", "owner-db"), "=== Backup a002", "~Database: +DATABASE", "~Status: +Completed", "~Type: +Scheduled")
	must(a("pg:backups:info", "b001", "-a", "owner-db"), "=== Backup b001", "~Type: +Manual")

	// The transfer names its schedule, the database's.
	_, body := s.api(t, "GET", "/client/v11/databases/"+d.addon+"/transfer-schedules", "")
	var scheds []struct{ UUID string }
	if err := json.Unmarshal([]byte(body), &scheds); err != nil || len(scheds) != 1 {
		t.Fatalf("transfer-schedules: %v %s", err, body)
	}
	_, body = s.api(t, "GET", "/client/v11/apps/owner-db/transfers/2", "")
	var x struct {
		Num      int
		Schedule *struct{ UUID string }
	}
	if err := json.Unmarshal([]byte(body), &x); err != nil || x.Num != 2 || x.Schedule == nil || x.Schedule.UUID != scheds[0].UUID {
		t.Errorf("transfer 2: %v %s, want its schedule %s", err, body, scheds[0].UUID)
	}
	_, body = s.api(t, "GET", "/client/v11/apps/owner-db/transfers/1", "")
	if err := json.Unmarshal([]byte(body), &x); err != nil || x.Num != 1 || x.Schedule != nil {
		t.Errorf("transfer 1: %v %s, want no schedule", err, body)
	}

	// hako's own listing, and the next capture's number.
	if err := admin.hakoHas(a("pg:backups", "-a", "owner-db"), `~a002\s+\S+\s+\S+\s+`+d.addon); err != nil {
		t.Error(err)
	}
	must(a("pg:backups:capture", "-a", "owner-db"), "Backing up DATABASE to b003... done")
}
