package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPGRestoreLimit: a backup taken under the default limit is larger
// than the 1 MiB the server is restarted with (HAKO_MAX_PG_BACKUP=1).
// Restoring it, by `hako pg:backups:restore` or by the Data API the
// heroku CLI calls, is refused before the database is touched, with a
// message that says why, and the rows are as they were; a capture past
// the limit is stopped and leaves no backup.
func TestPGRestoreLimit(t *testing.T) {
	need(t, "psql", "pg_dump", "pg_restore")
	s := startServer(t)
	s.hako(t, "apps:create", "big-db")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "big-db")
	// md5 text compresses to about half: some 3 MiB of dump.
	s.psqlValue(t, "big-db", `create table bulk (id serial primary key, v text);
insert into bulk (v) select md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) from generate_series(1, 40000)`)
	s.hako(t, "pg:backups:capture", "-a", "big-db")
	backups := func() []map[string]any {
		t.Helper()
		var list []map[string]any
		if err := json.Unmarshal([]byte(s.hako(t, "pg:backups", "-a", "big-db", "--json")), &list); err != nil {
			t.Fatal(err)
		}
		return list
	}
	list := backups()
	if len(list) != 1 || list[0]["size"].(float64) <= 1<<20 {
		t.Fatalf("the backup is not past 1 MiB: %v", list)
	}
	s.psqlValue(t, "big-db", "delete from bulk where id <= 10")
	count := func() string { return s.psqlValue(t, "big-db", "select count(*) from bulk") }

	s.stop()
	s.env = append(s.env, "HAKO_MAX_PG_BACKUP=1")
	s.start()

	out, err := s.run("pg:backups:restore", "b001", "-a", "big-db", "--confirm", "big-db")
	if err == nil || !hasLineMatch(out, ` ▸    The dump is \d+\.\d MiB, past this server's limit of 1 MiB for a restore \(hako server --max-pg-backup\): \w+ was not changed\.`) {
		t.Errorf("hako pg:backups:restore of a dump past the limit: %v\n%s", err, out)
	}
	if got := count(); got != "39990" {
		t.Errorf("rows after the refused restore: %s, want 39990", got)
	}

	// The heroku CLI's restore: POST the backup's to_url.
	addon := strings.TrimSpace(s.hako(t, "addons", "-a", "big-db", "--json"))
	var addons []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(addon), &addons); err != nil || len(addons) != 1 {
		t.Fatalf("addons --json: %v\n%s", err, addon)
	}
	url := apiTransfers(t, s, "big-db")
	code, body := s.api(t, "POST", "/client/v11/databases/"+addons[0].ID+"/restores", `{"backup_url": "`+url+`"}`)
	var e struct{ ID, Message string }
	_ = json.Unmarshal([]byte(body), &e)
	if code != 422 || e.ID != "invalid_params" || !strings.HasPrefix(e.Message, "The dump is ") || !strings.HasSuffix(e.Message, " was not changed.") {
		t.Errorf("Data API restore of a dump past the limit: %d %s", code, body)
	}
	if got := count(); got != "39990" {
		t.Errorf("rows after the refused Data API restore: %s, want 39990", got)
	}

	// A capture past the limit is stopped and leaves nothing.
	out, err = s.run("pg:backups:capture", "-a", "big-db")
	if err == nil || !hasLineMatch(out, ` ▸    pg_dump of \w+ stopped: the dump passed this server's limit of 1 MiB \(hako server --max-pg-backup\)\.`) {
		t.Errorf("a capture past the limit: %v\n%s", err, out)
	}
	if list := backups(); len(list) != 1 || list[0]["id"] != "b001" {
		t.Errorf("backups after the stopped capture: %v", list)
	}
}
