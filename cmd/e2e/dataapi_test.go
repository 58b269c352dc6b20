package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataAPI checks the part of Heroku's Data API that the heroku CLI's
// pg and redis commands call (HEROKU_DATA_HOST pointing at hako), with
// real PostgreSQL and Redis add-ons: what it says matches the URLs the
// app was given, a psql that insists on TLS (as the CLI's pg:psql does)
// connects with it, and nothing answers without the token or for an
// add-on of another service.
func TestDataAPI(t *testing.T) {
	need(t, "psql", "redis-server")
	s := startServer(t)
	s.hako(t, "apps:create", "data")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "data")
	s.hako(t, "addons:create", "heroku-redis", "-a", "data")
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "data"))
	redisURL := strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "data"))
	var addons []struct {
		ID, Name     string
		AddonService struct{ Name string } `json:"addon_service"`
	}
	_, body := s.api(t, "GET", "/apps/data/addons", "")
	if err := json.Unmarshal([]byte(body), &addons); err != nil || len(addons) != 2 {
		t.Fatalf("add-ons: %v %s", err, body)
	}
	ids := map[string]string{}
	names := map[string]string{}
	for _, a := range addons {
		ids[a.AddonService.Name], names[a.AddonService.Name] = a.ID, a.Name
	}
	token, err := os.ReadFile(filepath.Join(s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, user, pass string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+s.apiPort+path, nil)
		if pass != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tok := strings.TrimSpace(string(token))

	// pg:info's database, found by id, names the app's DATABASE_URL.
	code, body := s.api(t, "GET", "/client/v11/databases/"+ids["heroku-postgresql"], "")
	if code != 200 {
		t.Fatalf("pg database: %d %s", code, body)
	}
	var pg struct {
		ResourceURL string `json:"resource_url"`
		Info        []struct {
			Name   string
			Values []string
		}
	}
	if err := json.Unmarshal([]byte(body), &pg); err != nil || pg.ResourceURL != dbURL {
		t.Errorf("pg database: resource_url %q, want %q (%v)", pg.ResourceURL, dbURL, err)
	}
	rows := map[string]string{}
	for _, r := range pg.Info {
		rows[r.Name] = strings.Join(r.Values, ", ")
	}
	if rows["Plan"] != "Essential 0" || rows["Connections"] != "0/20" && rows["Connections"] != "1/20" {
		t.Errorf("pg info rows: %v", rows)
	}

	// pg:credentials:url asks with Basic auth, the token as password.
	code, body = get("/postgres/v0/databases/"+names["heroku-postgresql"]+"/credentials/default", "", tok)
	var cred struct {
		Database, Host string
		Port           int
		Credentials    []struct{ User, Password, State string }
	}
	if err := json.Unmarshal([]byte(body), &cred); code != 200 || err != nil || len(cred.Credentials) != 1 {
		t.Fatalf("credential: %d %s %v", code, body, err)
	}
	u, _ := url.Parse(dbURL)
	pw, _ := u.User.Password()
	if c := cred.Credentials[0]; c.User != u.User.Username() || c.Password != pw || c.State != "active" || cred.Host != u.Hostname() || cred.Database != strings.TrimPrefix(u.Path, "/") {
		t.Errorf("credential %+v does not match DATABASE_URL %s", cred, dbURL)
	}

	// The URL serves clients that insist on TLS.
	psql := exec.Command("psql", dbURL, "-XAtc", "select ssl from pg_stat_ssl where pid = pg_backend_pid()")
	psql.Env = append(os.Environ(), "PGSSLMODE=require", "PGCONNECT_TIMEOUT=10")
	if out, err := psql.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "t" {
		t.Errorf("psql with sslmode=require: %v %q, want t", err, out)
	}

	// redis:info and redis:cli's database.
	code, body = s.api(t, "GET", "/redis/v0/databases/"+names["heroku-redis"], "")
	var rd struct {
		Plan        string `json:"plan"`
		ResourceURL string `json:"resource_url"`
		NativeTLS   bool   `json:"prefer_native_tls"`
	}
	if err := json.Unmarshal([]byte(body), &rd); code != 200 || err != nil || rd.ResourceURL != redisURL || rd.Plan != "hobby-mini" || rd.NativeTLS {
		t.Errorf("redis database: %d %s, want resource_url %s, plan hobby-mini, no TLS", code, body, redisURL)
	}

	// Refusals: another service's add-on, an unknown credential or
	// database, no token, a wrong one.
	for _, c := range []struct {
		path, user, pass string
		code             int
	}{
		{"/client/v11/databases/" + ids["heroku-redis"], "", tok, 404},
		{"/redis/v0/databases/" + ids["heroku-postgresql"], "", tok, 404},
		{"/postgres/v0/databases/" + names["heroku-postgresql"] + "/credentials/other", "", tok, 404},
		{"/client/v11/databases/postgresql-none-00000", "", tok, 404},
		{"/client/v11/databases/" + ids["heroku-postgresql"], "", "", 401},
		{"/postgres/v0/databases/" + names["heroku-postgresql"] + "/credentials/default", "", "wrong-" + tok, 401},
		{"/redis/v0/databases/" + names["heroku-redis"], "heroku", "", 401},
	} {
		if code, body := get(c.path, c.user, c.pass); code != c.code || strings.Contains(body, pw) {
			t.Errorf("GET %s (user %q): %d %s, want %d without the password", c.path, c.user, code, body, c.code)
		}
	}

	// A user who may not see the app learns nothing of its databases,
	// not even that they exist; a collaborator gets their credential.
	for _, who := range []string{"stranger", "collab"} {
		key := s.keygen(who)
		s.hako(t, "users:add", who+"@example.test", "--key", key+".pub")
		if who == "collab" {
			s.hako(t, "access:add", "collab@example.test", "-a", "data")
		}
		out, err := s.ssh(key, nil, "auth:tokens:create", "-s")
		if err != nil {
			t.Fatalf("%s's token: %v\n%s", who, err, out)
		}
		userTok := strings.TrimSpace(out)
		for _, path := range []string{
			"/client/v11/databases/" + ids["heroku-postgresql"],
			"/postgres/v0/databases/" + names["heroku-postgresql"] + "/credentials/default",
			"/postgres/v0/databases/" + ids["heroku-postgresql"] + "/credentials",
			"/redis/v0/databases/" + names["heroku-redis"],
		} {
			code, body := get(path, "", userTok)
			if who == "stranger" && (code != 404 || strings.Contains(body, pw) || strings.Contains(body, names["heroku-postgresql"])) {
				t.Errorf("stranger: GET %s: %d %s, want 404 naming nothing", path, code, body)
			}
			if who == "collab" && code != 200 {
				t.Errorf("collaborator: GET %s: %d %s, want 200", path, code, body)
			}
		}
	}
}

// TestLogSessionPlain checks that a log session's URL gives plain lines
// to a client that does not ask for server-sent events, and events to
// one that does (the heroku CLI).
func TestLogSessionPlain(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "plain")
	_, account := s.api(t, "GET", "/account", "")
	var acct struct{ Email string }
	if err := json.Unmarshal([]byte(account), &acct); err != nil {
		t.Fatal(err)
	}
	email := acct.Email
	for _, c := range []struct{ accept, prefix string }{{"", ""}, {"text/plain", ""}, {"text/event-stream", "data: "}} {
		code, body := s.api(t, "POST", "/apps/plain/log-sessions", `{"lines": 10}`)
		var ls struct {
			URL string `json:"logplex_url"`
		}
		if err := json.Unmarshal([]byte(body), &ls); code != 201 || err != nil {
			t.Fatalf("log session: %d %s", code, body)
		}
		req, _ := http.NewRequest("GET", ls.URL, nil)
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		first, _, _ := strings.Cut(string(b), "\n")
		line, ok := strings.CutPrefix(first, c.prefix)
		_, rest, _ := strings.Cut(line, " ")
		if want := "app[api]: Release v1 created by user " + email; !ok || rest != want || c.prefix == "" && strings.HasPrefix(first, "data:") {
			t.Errorf("Accept %q: first line %q, want %q, then the time, then %q", c.accept, first, c.prefix, want)
		}
		if ct := resp.Header.Get("Content-Type"); (c.prefix == "") != strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Accept %q: Content-Type %s", c.accept, ct)
		}
	}
}
