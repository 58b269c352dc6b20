package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHerokuCLIPGBackups drives hako's backups with the official heroku
// CLI's pg:backups commands (HAKO_HEROKU_CLI, as TestHerokuCLI), through
// the Data API's transfers: capture waits for the backup, pg:backups and
// pg:backups:info show it as `hako pg:backups` numbers it, pg:backups:url
// gives a URL that downloads the dump without a token, restore brings a
// deleted row back in the real PostgreSQL and is listed under Restores
// as r002 (one sequence with the backups) and described by
// pg:backups:info, and is neither deleted, downloaded nor canceled once
// finished; delete removes a backup and its number is not given again. A stranger gets the CLI's 403/404
// errors and changes nothing; a restore names only a backup of this
// server's that its caller may see.
func TestHerokuCLIPGBackups(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "psql", "pg_dump", "pg_restore")
	d := newAttachedDB(t)
	s := d.s
	admin := d.heroku(t, cli, "admin")
	stranger := d.heroku(t, cli, "stranger")
	heroku := func(h *herokuEnv, args ...string) (string, error) {
		t.Helper()
		out, err := h.run(cliRow{args: args})
		if os.Getenv("HAKO_CLI_RECORD") != "" {
			t.Logf("heroku %s (err %v):\n%s", strings.Join(args, " "), err, out)
		}
		return out, err
	}
	must := func(args []string, lines ...string) string {
		t.Helper()
		out, err := heroku(admin, args...)
		if err != nil {
			t.Fatalf("heroku %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if e := holdsLines(out, lines); e != nil {
			t.Errorf("heroku %s: %v\n%s", strings.Join(args, " "), e, out)
		}
		return out
	}
	a := func(args ...string) []string { return args }
	rows := "select string_agg(name, ',' order by id) from items"
	s.psqlValue(t, "owner-db", seed)
	s.psqlValue(t, "owner-db", "insert into items (name) values ('delta')")

	must(a("pg:backups:capture", "-a", "owner-db"), "Backing up DATABASE to b001... done")
	must(a("pg:backups", "-a", "owner-db"), "=== Backups", `~ +b001 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 +Completed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 +\d+(\.\d\d)?[KM]?B +DATABASE`)
	if err := admin.hakoHas(a("pg:backups", "-a", "owner-db"), `~b001\s+\S+\s+\S+\s+`+d.addon); err != nil {
		t.Error(err)
	}
	must(a("pg:backups:info", "b001", "-a", "owner-db"), "=== Backup b001", "~Database: +DATABASE", "~Status: +Completed", "~Type: +Manual", "=== Backup Logs")

	// The URL downloads the dump, without a token; tampered, it does not.
	out := must(a("pg:backups:url", "b001", "-a", "owner-db"))
	u := strings.TrimSpace(out)
	dump := filepath.Join(t.TempDir(), "b001.dump")
	if code := fetchTo(t, s, u, dump); code != 200 {
		t.Fatalf("GET the public URL: %d", code)
	}
	if out, err := exec2("pg_restore", "--list", dump); err != nil || !hasLineMatch(out, `\d+; \d+ \d+ TABLE public items \S*`) {
		t.Errorf("pg_restore --list of the download: %v\n%s", err, out)
	}
	got := filepath.Join(t.TempDir(), "got.dump")
	must(a("pg:backups:download", "b001", "-a", "owner-db", "-o", got))
	if out, err := exec2("pg_restore", "--list", got); err != nil || !hasLineMatch(out, `\d+; \d+ \d+ TABLE public items \S*`) {
		t.Errorf("pg_restore --list of pg:backups:download's file: %v\n%s", err, out)
	}
	if code := fetchTo(t, s, strings.Replace(u, "sig=", "sig=0", 1), filepath.Join(t.TempDir(), "x")); code != 404 {
		t.Errorf("a tampered public URL: %d, want 404", code)
	}

	// The row is deleted, the backup restored: it is back.
	s.psqlValue(t, "owner-db", "delete from items where name = 'delta'")
	must(a("pg:backups:restore", "b001", "DATABASE_URL", "-a", "owner-db", "--confirm", "owner-db"), "Restoring... done")
	if got := s.psqlValue(t, "owner-db", rows); got != "alpha,beta,gamma,delta" {
		t.Errorf("after restore: %q", got)
	}
	// The restore is listed under Restores, numbered after b001 in the
	// database's one sequence (the CLI finds r002 by its number, 2), and
	// described by pg:backups:info.
	date := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000`
	must(a("pg:backups", "-a", "owner-db"), "=== Backups", "=== Restores", `~ +r002 +`+date+` +Completed `+date+` +\d+(\.\d\d)?[KM]?B +DATABASE *`, "=== Copies",
		"No copies found. Use heroku pg:copy to copy a database to another")
	must(a("pg:backups:info", "r002", "-a", "owner-db"), "=== Backup r002", "~Database: +owner-db::b001", "~Finished at: +"+date, "~Status: +Completed", "=== Backup Logs",
		"~"+date+" restore of owner-db::b001 into DATABASE finished")
	// Neither deleted nor downloaded, nor canceled once finished.
	for _, c := range []struct {
		args []string
		line string
	}{
		{a("pg:backups:delete", "r002", "-a", "owner-db", "--confirm", "owner-db"), " ›   Error: Restore r002 is not a backup: only backups are deleted."},
		{a("pg:backups:url", "r002", "-a", "owner-db"), " ›   Error: r002 has no dump to download: only a finished backup has one."},
		{a("pg:backups:cancel", "r002", "-a", "owner-db"), " ›   Error: Restore r002 has ended: only a running transfer can be canceled."},
		{a("pg:backups:info", "r099", "-a", "owner-db"), `~ ›   Error: owner-db has no transfer 99: .heroku pg:backups -a owner-db. lists *`},
	} {
		re, isRe := strings.CutPrefix(c.line, "~")
		if out, err := heroku(admin, c.args...); err == nil || (isRe && !hasLineMatch(out, re)) || (!isRe && !hasLine(out, c.line)) {
			t.Errorf("heroku %s: %v\n%s", strings.Join(c.args, " "), err, out)
		}
	}

	// A stranger: the CLI's errors, and nothing changes.
	s.psqlValue(t, "owner-db", "delete from items where name = 'delta'")
	for _, args := range [][]string{
		a("pg:backups", "-a", "owner-db"),
		a("pg:backups:info", "b001", "-a", "owner-db"),
		a("pg:backups:url", "b001", "-a", "owner-db"),
		a("pg:backups:capture", "-a", "owner-db"),
		a("pg:backups:restore", "b001", "DATABASE_URL", "-a", "owner-db", "--confirm", "owner-db"),
		a("pg:backups:delete", "b001", "-a", "owner-db", "--confirm", "owner-db"),
	} {
		out, err := heroku(stranger, args...)
		if err == nil || !hasLine(out, " ›   Error: You do not have access to the app owner-db.") {
			t.Errorf("stranger: heroku %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// And through the Data API directly.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/client/v11/apps/owner-db/transfers", ""},
		{"GET", "/client/v11/apps/owner-db/transfers/1?verbose=true", ""},
		{"DELETE", "/client/v11/apps/owner-db/transfers/1", ""},
		{"POST", "/client/v11/apps/owner-db/transfers/1/actions/public-url", ""},
		{"POST", "/client/v11/databases/" + d.addon + "/backups", ""},
		{"POST", "/client/v11/databases/" + d.addon + "/restores", `{"backup_url": "http://127.0.0.1:` + s.apiPort + `/pg-backups/x/b001"}`},
	} {
		if code, body := d.apiAs(t, "stranger", c.method, c.path, c.body); code != 403 && code != 404 {
			t.Errorf("stranger: %s %s: %d %s", c.method, c.path, code, body)
		}
	}
	// A member of uses-db, which the database is attached to, restores
	// only backups they may see: not lone-db's, nor a URL elsewhere.
	s.hako(t, "pg:backups:capture", "-a", "lone-db")
	lone := apiTransfers(t, s, "lone-db")
	for _, url := range []string{lone, "http://127.0.0.1:1/pg-backups/x/b001", "file:///etc/passwd"} {
		if code, body := d.apiAs(t, "member", "POST", "/client/v11/databases/"+d.addon+"/restores", `{"backup_url": "`+url+`"}`); code != 404 && code != 422 {
			t.Errorf("member: restore from %s: %d %s", url, code, body)
		}
	}
	if got := s.psqlValue(t, "owner-db", rows); got != "alpha,beta,gamma" {
		t.Errorf("after the refusals: %q", got)
	}
	must(a("pg:backups", "-a", "owner-db"), `~ +b001 +.*`)

	// Delete: gone from both lists; numbers are not given twice.
	must(a("pg:backups:capture", "-a", "owner-db"), "Backing up DATABASE to b003... done")
	must(a("pg:backups:delete", "b001", "-a", "owner-db", "--confirm", "owner-db"), "Deleting backup b001 on owner-db... done")
	must(a("pg:backups:delete", "b003", "-a", "owner-db", "--confirm", "owner-db"), "Deleting backup b003 on owner-db... done")
	must(a("pg:backups", "-a", "owner-db"), "=== Backups", "No backups. Capture one with heroku pg:backups:capture")
	must(a("pg:backups:capture", "-a", "owner-db"), "Backing up DATABASE to b004... done")
	if err := admin.hakoHas(a("pg:backups", "-a", "owner-db"), `~b004\s+\S+\s+\S+\s+`+d.addon); err != nil {
		t.Error(err)
	}
}

// apiTransfers is the to_url of an app's first transfer, as the Data API
// lists it.
func apiTransfers(t *testing.T, s *server, app string) string {
	t.Helper()
	code, body := s.api(t, "GET", "/client/v11/apps/"+app+"/transfers", "")
	_, rest, ok := strings.Cut(body, `"to_url": "`)
	u, _, _ := strings.Cut(rest, `"`)
	if code != 200 || !ok {
		t.Fatalf("GET transfers of %s: %d %s", app, code, body)
	}
	return u
}

// fetchTo downloads url (the server's own CA trusted) into path, with no
// token, and returns the status.
func fetchTo(t *testing.T, s *server, url, path string) int {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(s.home, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}
