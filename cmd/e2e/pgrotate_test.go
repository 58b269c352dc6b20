package e2e

import (
	"bufio"
	"io"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPGCredentialsRotate: pg:credentials:rotate, named through the app
// a database is attached to, gives it a new password against the real
// PostgreSQL: the old one fails and a session held with it is ended;
// both apps' config vars carry the new URL, each set in a release
// ("Update NAME by heroku-postgresql") whose dynos replaced the old
// ones; an app detached before keeps nothing that works. It needs
// --confirm, and access to the app named.
func TestPGCredentialsRotate(t *testing.T) {
	need(t, "psql", "python3")
	d := newAttachedDB(t)
	s := d.s
	for _, app := range []string{"owner-db", "uses-db"} {
		if out, err := s.push(repo(t, "procfile-app"), s.key, app, "main"); err != nil {
			t.Fatalf("push %s: %v\n%s", app, err, out)
		}
	}
	// was-db had the database and was detached: it knows the password.
	s.hako(t, "apps:create", "was-db")
	s.hako(t, "addons:attach", d.addon, "--as", "GONE", "-a", "was-db")
	s.hako(t, "addons:detach", "GONE", "-a", "was-db")
	old := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "owner-db"))
	s.psqlValue(t, "owner-db", seed)
	before := map[string]dynoStatus{}
	for _, app := range []string{"owner-db", "uses-db"} {
		ds := s.dynos(t, app)
		if len(ds) != 1 || ds[0].State != "up" {
			t.Fatalf("%s's dynos before: %+v", app, ds)
		}
		before[app] = ds[0]
	}

	// A session held with the old password, as the detached app's would be.
	held := exec.Command("psql", old, "-XAtq")
	stdin, _ := held.StdinPipe()
	stdout, _ := held.StdoutPipe()
	held.Stderr = held.Stdout
	if err := held.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Process.Kill(); held.Wait() })
	lines := bufio.NewScanner(stdout)
	io.WriteString(stdin, "select 'held ' || count(*) from items;\n")
	if !lines.Scan() || lines.Text() != "held 3" {
		t.Fatalf("the held session: %q", lines.Text())
	}

	// Refusals first: without --confirm, and by a stranger.
	if out, err := s.ssh(d.keys["member"], nil, "pg:credentials:rotate", "SHARED_DB", "-a", "uses-db"); err == nil || !hasLine(out, " ▸    This rotates the password of uses-db's database SHARED_DB: connections are reset and every app it is attached to restarts. To proceed, re-run this command with --confirm uses-db") {
		t.Errorf("member: rotate without --confirm: %v\n%s", err, out)
	}
	if code, body := d.apiAs(t, "member", "POST", "/apps/uses-db/pg-actions/rotate-credentials", `{"database": "SHARED_DB", "confirm": "owner-db"}`); code != 422 {
		t.Errorf("member: API rotate confirming another app: %d %s", code, body)
	}
	if out, err := s.ssh(d.keys["stranger"], nil, "pg:credentials:rotate", "SHARED_DB", "-a", "uses-db", "--confirm", "uses-db"); err == nil || !hasLine(out, " ▸    You do not have access to the app uses-db.") {
		t.Errorf("stranger: rotate: %v\n%s", err, out)
	}
	if code, body := d.apiAs(t, "stranger", "POST", "/postgres/v0/databases/"+d.addon+"/credentials/default/credentials_rotation", `{}`); code != 404 {
		t.Errorf("stranger: Data API rotation: %d %s", code, body)
	}
	if got := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "owner-db")); got != old {
		t.Fatalf("a refused rotation changed DATABASE_URL")
	}

	out, err := s.ssh(d.keys["member"], nil, "pg:credentials:rotate", "SHARED_DB", "-a", "uses-db", "--confirm", "uses-db")
	if err != nil || !hasLine(out, "Rotating the credentials of SHARED_DB of ⬢ uses-db... done") ||
		!hasLineMatch(out, `⬢ owner-db: v\d+ Update DATABASE by heroku-postgresql`) || !hasLineMatch(out, `⬢ uses-db: v\d+ Update SHARED_DB by heroku-postgresql`) {
		t.Fatalf("member: pg:credentials:rotate SHARED_DB -a uses-db: %v\n%s", err, out)
	}
	fresh := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "owner-db"))
	if fresh == old || fresh == "" {
		t.Fatalf("DATABASE_URL after rotation = %q (old %q)", fresh, old)
	}
	ou, _ := url.Parse(old)
	nu, _ := url.Parse(fresh)
	if nu.User.Username() != ou.User.Username() || nu.Host != ou.Host || nu.Path != ou.Path {
		t.Errorf("the rotation changed more than the password: %s -> %s", ou.Redacted(), nu.Redacted())
	}
	if got := strings.TrimSpace(s.hako(t, "config:get", "SHARED_DB_URL", "-a", "uses-db")); got != fresh {
		t.Errorf("uses-db's SHARED_DB_URL = %q, want owner-db's new DATABASE_URL", got)
	}
	if out, err := s.run("config:get", "GONE_URL", "-a", "was-db"); err == nil && strings.TrimSpace(out) != "" {
		t.Errorf("the detached app got the new URL: %q", out)
	}
	for _, app := range []string{"owner-db", "uses-db"} {
		rel := s.hako(t, "releases", "-a", app, "-n", "1")
		if !hasLineMatch(rel, `v\d+\s+Update (DATABASE|SHARED_DB) by heroku-postgresql\s+.*`) {
			t.Errorf("%s's latest release:\n%s", app, rel)
		}
	}

	// The old password fails against the server, the new one works.
	if out, err := exec2("psql", old, "-XAtc", "select 1"); err == nil || !hasLineMatch(out, `.*password authentication failed for user "`+ou.User.Username()+`".*`) {
		t.Errorf("psql with the old password: %v\n%s", err, out)
	}
	if out, err := exec2("psql", fresh, "-XAtc", "select count(*) from items"); err != nil || strings.TrimSpace(out) != "3" {
		t.Errorf("psql with the new password: %v\n%s", err, out)
	}
	// The held session was ended.
	io.WriteString(stdin, "select 'still ' || count(*) from items;\n")
	stdin.Close()
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	if strings.Contains(strings.Join(rest, "\n"), "still 3") {
		t.Errorf("the session held with the old password still answers:\n%s", strings.Join(rest, "\n"))
	}

	// Both apps' dynos were replaced by ones of the new release.
	for _, app := range []string{"owner-db", "uses-db"} {
		var last string
		waitFor(t, 60*time.Second, app+"'s dyno of the new release", func() bool {
			ds := s.dynos(t, app)
			last = s.hako(t, "ps", "-a", app)
			return len(ds) == 1 && ds[0].State == "up" && ds[0].PID != before[app].PID && ds[0].Release.Version > before[app].Release.Version
		}, func() string { return last })
	}
}
