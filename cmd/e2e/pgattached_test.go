package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// attachedDB is a server where owner-db's database is attached to
// uses-db as SHARED_DB, lone-db has a database of its own, member may
// act on uses-db only and stranger on nothing of theirs.
type attachedDB struct {
	s      *server
	addon  string            // owner-db's add-on's name
	lone   string            // lone-db's add-on's name
	keys   map[string]string // member, stranger: their SSH keys
	tokens map[string]string // member, stranger: their API tokens
}

// heroku returns a heroku CLI environment of its own (cli is
// herokuCLI's) for who: "admin" (the server's own token), "member" or
// "stranger".
func (d *attachedDB) heroku(t *testing.T, cli, who string) *herokuEnv {
	t.Helper()
	token := d.tokens[who]
	if who == "admin" {
		b, err := os.ReadFile(filepath.Join(d.s.home, "api-token"))
		if err != nil {
			t.Fatal(err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		t.Fatalf("no token for %q", who)
	}
	return &herokuEnv{t: t, s: d.s, cli: cli, home: t.TempDir(), token: token}
}

func newAttachedDB(t *testing.T) *attachedDB {
	t.Helper()
	s := startServer(t)
	d := &attachedDB{s: s, keys: map[string]string{}, tokens: map[string]string{}}
	for _, app := range []string{"owner-db", "uses-db", "lone-db"} {
		s.hako(t, "apps:create", app)
	}
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "owner-db")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "lone-db")
	h := &herokuEnv{t: t, s: s}
	d.addon, d.lone = h.addonName("owner-db", "DATABASE"), h.addonName("lone-db", "DATABASE")
	s.hako(t, "addons:attach", d.addon, "--as", "SHARED_DB", "-a", "uses-db")
	for _, who := range []string{"member", "stranger"} {
		key := s.keygen(who)
		s.hako(t, "users:add", who+"@example.test", "--key", key+".pub")
		out, err := s.ssh(key, nil, "auth:tokens:create", "-s", "-d", "attached")
		if err != nil {
			t.Fatalf("%s: auth:tokens:create: %v\n%s", who, err, out)
		}
		d.keys[who], d.tokens[who] = key, strings.TrimSpace(out)
	}
	s.hako(t, "access:add", "member@example.test", "-a", "uses-db")
	return d
}

// apiAs calls the API with who's token.
func (d *attachedDB) apiAs(t *testing.T, who, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://127.0.0.1:"+d.s.apiPort+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+d.tokens[who])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPGThroughAttachment: the pg commands name a database through any
// app it is attached to, as on Heroku. A member of uses-db only (no
// access to owner-db) backs up, downloads and reads owner-db's database
// through its attachment SHARED_DB, by attachment, config var or add-on
// name; nobody reaches a database through an app it is not attached
// to (404, not_found), and a stranger reaches none through an app they
// cannot access, in either of Heroku's forms (-a APP, APP::DATABASE).
func TestPGThroughAttachment(t *testing.T) {
	need(t, "psql", "pg_dump", "pg_restore")
	d := newAttachedDB(t)
	s := d.s
	s.psqlValue(t, "owner-db", seed)
	member := func(args ...string) (string, error) { return s.ssh(d.keys["member"], nil, args...) }

	for i, db := range []string{"SHARED_DB", "SHARED_DB_URL", d.addon} {
		out, err := member("pg:backups:capture", db, "-a", "uses-db")
		if want := `Backing up ` + regexpQuote(db) + ` of ⬢ uses-db\.\.\. done, b00` + string(rune('1'+i)) + ` \(\d+(\.\d)?[kM]?B\)`; err != nil || !hasLineMatch(out, want) {
			t.Fatalf("member: pg:backups:capture %s -a uses-db: %v\n%s", db, err, out)
		}
	}
	if out, err := member("pg:backups", "-a", "uses-db"); err != nil || !hasLineMatch(out, `b003\s+\S+\s+\S+\s+`+d.addon) {
		t.Errorf("member: pg:backups -a uses-db: %v\n%s", err, out)
	}
	// The backups are the add-on's: its owner sees them too.
	if out := s.hako(t, "pg:backups", "-a", "owner-db"); !hasLineMatch(out, `b001\s+\S+\s+\S+\s+`+d.addon) {
		t.Errorf("pg:backups -a owner-db:\n%s", out)
	}
	// Downloaded through the API with the member's token, the dump holds
	// owner-db's table.
	code, body := d.apiAs(t, "member", "GET", "/apps/uses-db/pg-backups/b001/download", "")
	if code != 200 || !strings.HasPrefix(body, "PGDMP") {
		t.Fatalf("member: download b001 through uses-db: %d %.40q", code, body)
	}
	dump := filepath.Join(t.TempDir(), "b001.dump")
	if err := os.WriteFile(dump, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec2("pg_restore", "--list", dump); err != nil || !hasLineMatch(out, `\d+; \d+ \d+ TABLE public items \S+`) {
		t.Errorf("pg_restore --list of the download: %v\n%s", err, out)
	}

	out, err := member("pg:info", "SHARED_DB", "-a", "uses-db")
	for _, want := range []string{"=== SHARED_DB_URL", "Plan:        Essential 0", "Status:      Available", "Billing App: ⬢ owner-db", "Add-on:      " + d.addon} {
		if err != nil || !hasLine(out, want) {
			t.Errorf("member: pg:info SHARED_DB -a uses-db: want the line %q: %v\n%s", want, err, out)
		}
	}
	if !hasLineMatch(out, `Connections: \d+/20`) {
		t.Errorf("pg:info has no connections line:\n%s", out)
	}
	// Without an argument: every database attached to the app.
	if out, err := member("pg:info", "-a", "uses-db"); err != nil || !hasLine(out, "=== SHARED_DB_URL") || !hasLine(out, "Add-on:      "+d.addon) {
		t.Errorf("member: pg:info -a uses-db: %v\n%s", err, out)
	}
	// The owner sees no "Billing App" line.
	if out := s.hako(t, "pg:info", "-a", "owner-db"); !hasLine(out, "=== DATABASE_URL") || hasLineMatch(out, `Billing App:.*`) {
		t.Errorf("pg:info -a owner-db:\n%s", out)
	}

	// A database not attached to the app named is not found through it,
	// whoever asks: the member, or an administrator.
	for _, db := range []string{d.lone, "lone-db::DATABASE"} {
		out, err := member("pg:info", db, "-a", "uses-db")
		if err == nil || (!hasLine(out, " ▸    Unknown database: "+d.lone+". Valid options are: SHARED_DB") && !hasLine(out, " ▸    You do not have access to the app lone-db.")) {
			t.Errorf("member: pg:info %s -a uses-db: %v\n%s", db, err, out)
		}
	}
	if out, err := s.run("pg:backups:capture", d.lone, "-a", "uses-db"); err == nil || !hasLine(out, " ▸    Unknown database: "+d.lone+". Valid options are: SHARED_DB") {
		t.Errorf("admin: capture of lone-db's database through uses-db: %v\n%s", err, out)
	}
	wantNotFound := `{"id":"not_found","message":"Unknown database: ` + d.lone + `. Valid options are: SHARED_DB"}`
	if code, body := d.apiAs(t, "member", "POST", "/apps/uses-db/pg-backups", `{"attachment": "`+d.lone+`"}`); code != 404 || compactJSON(body) != wantNotFound {
		t.Errorf("member: API capture of an unattached database: %d %s, want 404 %s", code, body, wantNotFound)
	}
	if code, body := d.apiAs(t, "member", "GET", "/apps/uses-db/pg-databases?database="+d.lone, ""); code != 404 || compactJSON(body) != wantNotFound {
		t.Errorf("member: API pg-databases of an unattached database: %d %s", code, body)
	}
	// Nor through the owner-db's database by the member, who has no
	// access to owner-db.
	if out, err := member("pg:backups:capture", "owner-db::DATABASE", "-a", "uses-db"); err == nil || !hasLine(out, " ▸    You do not have access to the app owner-db.") {
		t.Errorf("member: capture owner-db::DATABASE: %v\n%s", err, out)
	}

	// A stranger reaches nothing through uses-db, by either form.
	stranger := func(args ...string) (string, error) { return s.ssh(d.keys["stranger"], nil, args...) }
	if out, err := stranger("apps:create", "strange-db"); err != nil {
		t.Fatalf("stranger: apps:create: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"pg:backups:capture", "SHARED_DB", "-a", "uses-db"},
		{"pg:info", "SHARED_DB", "-a", "uses-db"},
		{"pg:backups", "-a", "uses-db"},
		{"pg:info", "uses-db::SHARED_DB", "-a", "strange-db"},
		{"pg:backups:capture", "uses-db::SHARED_DB", "-a", "strange-db"},
	} {
		if out, err := stranger(args...); err == nil || !hasLine(out, " ▸    You do not have access to the app uses-db.") {
			t.Errorf("stranger: %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if code, body := d.apiAs(t, "stranger", "GET", "/apps/uses-db/pg-backups/b001/download", ""); code != 403 || strings.HasPrefix(body, "PGDMP") {
		t.Errorf("stranger: download through uses-db: %d %.60q", code, body)
	}
	if out := s.hako(t, "pg:backups", "-a", "owner-db"); hasLineMatch(out, `b004\s.*`) {
		t.Errorf("a refused capture made a backup:\n%s", out)
	}
}

// TestHerokuCLIPGThroughAttachment: the real heroku CLI's pg:info and
// pg:credentials:url name a database through an app it is attached to,
// and find none through an app it is not attached to.
func TestHerokuCLIPGThroughAttachment(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "psql")
	d := newAttachedDB(t)
	h := &herokuEnv{t: t, s: d.s, cli: cli, home: t.TempDir(), token: d.tokens["member"]}
	heroku := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, cli, args...)
		c.Env = h.env()
		out, err := c.CombinedOutput()
		return string(out), err
	}
	out, err := heroku("pg:info", "SHARED_DB", "-a", "uses-db")
	if err != nil || !holdsAll(out, "=== SHARED_DB_URL", "~Plan: +Essential 0", "~Billing App: +owner-db", "~Add-on: +"+d.addon) {
		t.Errorf("heroku pg:info SHARED_DB -a uses-db: %v\n%s", err, out)
	}
	out, err = heroku("pg:credentials:url", "SHARED_DB", "-a", "uses-db")
	if err != nil || !hasLineMatch(out, `  postgres://\S+@127\.0\.0\.1:\d+/\S+`) {
		t.Errorf("heroku pg:credentials:url SHARED_DB -a uses-db: %v\n%s", err, out)
	}
	// pg:credentials:rotate through uses-db: both apps get the new URL.
	old := strings.TrimSpace(d.s.hako(t, "config:get", "DATABASE_URL", "-a", "owner-db"))
	out, err = heroku("pg:credentials:rotate", "SHARED_DB", "-a", "uses-db", "--confirm", "uses-db")
	fresh := strings.TrimSpace(d.s.hako(t, "config:get", "DATABASE_URL", "-a", "owner-db"))
	if err != nil || !hasLineMatch(out, `Rotating default on `+d.addon+`\.\.\. done`) || fresh == old {
		t.Errorf("heroku pg:credentials:rotate SHARED_DB -a uses-db: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(d.s.hako(t, "config:get", "SHARED_DB_URL", "-a", "uses-db")); got != fresh {
		t.Errorf("after heroku pg:credentials:rotate, uses-db's SHARED_DB_URL = %q, want %q", got, fresh)
	}
	if out, err := heroku("pg:info", d.lone, "-a", "uses-db"); err == nil || strings.Contains(out, "Add-on:") {
		t.Errorf("heroku pg:info of a database not attached to uses-db: %v\n%s", err, out)
	}
	h.token = d.tokens["stranger"]
	if out, err := heroku("pg:info", "SHARED_DB", "-a", "uses-db"); err == nil || strings.Contains(out, "Add-on:") {
		t.Errorf("stranger: heroku pg:info SHARED_DB -a uses-db: %v\n%s", err, out)
	}
}

// holdsAll reports whether out has each line of want (a leading ~ makes
// it a regular expression), in any order.
func holdsAll(out string, want ...string) bool {
	for _, w := range want {
		if re, ok := strings.CutPrefix(w, "~"); ok {
			if !hasLineMatch(out, re) {
				return false
			}
		} else if !hasLine(out, w) {
			return false
		}
	}
	return true
}

// compactJSON is body with the insignificant spaces taken out.
func compactJSON(body string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(body)); err != nil {
		return body
	}
	return b.String()
}
