package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pyServer is a web dyno for app.json tests: GET /env/NAME answers NAME's
// value; / answers 500 when the app has a file fail_root; /health answers
// 500 once /sicken was asked; anything else answers "go".
const pyServer = `import os
from http.server import BaseHTTPRequestHandler, HTTPServer

sick = False

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        global sick
        code, body = 200, "go"
        if self.path.startswith("/env/"):
            body = os.environ.get(self.path[5:], "<unset>")
        elif self.path == "/" and os.path.exists("fail_root"):
            code, body = 500, "broken"
        elif self.path == "/health" and sick:
            code, body = 500, "sick"
        elif self.path == "/sicken":
            sick = True
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`

// appRepo makes a git repository holding files, with one commit.
func appRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	return commitFiles(t, t.TempDir(), files, "first")
}

// commitFiles writes files (executable, in directories made as needed)
// into dir, makes it a git repository on main and commits them with
// message: an app or a buildpack to push or serve.
func commitFiles(t *testing.T, dir string, files map[string]string, message string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", message)
	return dir
}

// commitFile changes one file of a repository and commits it.
func commitFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "change "+name)
}

// TestAppJSONSetUp pushes an app whose app.json declares its config vars
// (one required, one generated), a PostgreSQL add-on that its release
// phase migrates, and checks the first deploy sets them up, a required
// var missing refuses the push by name, and a later deploy overwrites
// nothing.
func TestAppJSONSetUp(t *testing.T) {
	need(t, "python3", "psql")
	s := startServer(t)
	s.hako(t, "apps:create", "declared")
	dir := appRepo(t, map[string]string{
		"Procfile":  "web: python3 server.py\nrelease: psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -qc 'create table if not exists migrated (x int)'\n",
		"server.py": pyServer,
		"app.json": `{
  "name": "declared",
  "logo": "https://example.test/logo.png",
  "env": {
    "GREETING": "hi",
    "SECRET_KEY": {"generator": "secret"},
    "API_TOKEN": {"description": "the API's token", "required": true}
  },
  "addons": ["heroku-postgresql"]
}
`,
	})
	out, err := s.push(dir, s.key, "declared", "main")
	if err == nil || !hasRemoteLine(out, " !     app.json: the required config var API_TOKEN has no value: set it with `hako config:set -a declared API_TOKEN=...` and push again.") {
		t.Fatalf("push without API_TOKEN: %v\n%s", err, out)
	}
	s.hako(t, "config:set", "API_TOKEN=t0ken", "-a", "declared")
	if out, err := s.push(dir, s.key, "declared", "main"); err != nil {
		t.Fatalf("push with API_TOKEN: %v\n%s", err, out)
	}
	s.waitPath(t, "declared", "/env/GREETING", "hi")
	s.waitPath(t, "declared", "/env/API_TOKEN", "t0ken")
	secret := strings.TrimSpace(s.hako(t, "config:get", "SECRET_KEY", "-a", "declared"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(secret) {
		t.Fatalf("SECRET_KEY = %q, want 64 hex digits", secret)
	}
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "declared"))
	if !strings.HasPrefix(dbURL, "postgres://") {
		t.Fatalf("DATABASE_URL = %q", dbURL)
	}
	got, err := s.run("run", "-a", "declared", "--no-tty", `psql "$DATABASE_URL" -tAc 'select count(*) from migrated'`)
	if err != nil || !hasLine(got, "0") {
		t.Fatalf("the release phase did not migrate the add-on's database: %v\n%s", err, got)
	}
	info := s.hako(t, "releases:info", "-a", "declared")
	if !hasLine(info, "=== app.json") || !hasLine(info, `  "logo": "https://example.test/logo.png",`) {
		t.Errorf("releases:info does not show app.json:\n%s", info)
	}

	// A later deploy overwrites nothing and provisions nothing again.
	s.hako(t, "config:set", "GREETING=changed", "-a", "declared")
	commitFile(t, dir, "server.py", pyServer+"\n# v2\n")
	if out, err := s.push(dir, s.key, "declared", "main"); err != nil {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(s.hako(t, "config:get", "SECRET_KEY", "-a", "declared")); got != secret {
		t.Errorf("SECRET_KEY changed on the second deploy: %q, was %q", got, secret)
	}
	s.waitPath(t, "declared", "/env/GREETING", "changed")
	if out := s.hako(t, "addons", "-a", "declared"); strings.Count(out, " └─ as DATABASE") != 1 {
		t.Errorf("addons after two deploys:\n%s", out)
	}
}

// TestAppJSONFormation is Dokku's nodejs-worker: a Procfile with only a
// worker, scaled to one by app.json, runs it. app.json's buildpacks are
// used when the app names none.
func TestAppJSONFormation(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "workeronly")
	dir := appRepo(t, map[string]string{
		"Procfile":  "worker: python3 -u worker.py\n",
		"app.json":  `{"formation": {"worker": {"quantity": 1, "size": "basic"}}}`,
		"worker.py": "import time\nwhile True:\n    print('working')\n    time.sleep(1)\n",
	})
	if out, err := s.push(dir, s.key, "workeronly", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	waitFor(t, 30*time.Second, "worker.1 up", func() bool {
		for _, d := range s.dynos(t, "workeronly") {
			if d.Name == "worker.1" && d.State == "up" {
				return true
			}
		}
		return false
	})
	// app.json's buildpacks win over detection: this app's go.mod would
	// make it a Go app.
	s.hako(t, "apps:create", "packed")
	packed := appRepo(t, map[string]string{
		"Procfile": "web: python3 server.py\n", "server.py": pyServer, "go.mod": "module packed\n\ngo 1.22\n",
		"app.json": `{"buildpacks": [{"url": "procfile"}]}`,
	})
	if out, err := s.push(packed, s.key, "packed", "main"); err != nil || !hasRemoteLine(out, "-----> Procfile app detected") {
		t.Fatalf("push with app.json buildpacks: %v\n%s", err, out)
	}
	s.waitBody(t, "packed", "go")

	// ps:scale stays the user's: the next deploy does not scale it back.
	s.hako(t, "ps:scale", "worker=0", "-a", "workeronly")
	commitFile(t, dir, "worker.py", "import time\nwhile True:\n    time.sleep(1)\n")
	if out, err := s.push(dir, s.key, "workeronly", "main"); err != nil {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	if ds := s.dynos(t, "workeronly"); len(ds) != 0 {
		t.Errorf("dynos after ps:scale worker=0 and a deploy: %+v", ds)
	}
}

// TestAppJSONHostile pushes app.json files an attacker or a slip would:
// a link out of the app, malformed JSON, a wrong type, a bad schedule;
// each is refused with its own words and changes nothing. A failing
// postdeploy script is reported while the release stays live.
func TestAppJSONHostile(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "hostile")
	dir := appRepo(t, map[string]string{"Procfile": "web: python3 server.py\n", "server.py": pyServer})
	for _, tc := range []struct {
		name, content, want string
	}{
		{"link", "", " !     app.json could not be read: it is a link that leads out of the app."},
		{"malformed", "{\n  \"env\": {\n    \"A\": \"b\",,\n  }\n}\n", ` !     app.json: invalid character ',' looking for beginning of object key string at line 3, column 14`},
		{"type", `{"formation": {"web": {"quantity": "2"}}}`, " !     app.json: formation.web.quantity must be a number"},
		{"buildpack", `{"buildpacks": [{"url": "/tmp"}]}`, ` !     app.json: buildpacks[0].url ("/tmp") is not a buildpack an app may name: a built-in pack (heroku/go, heroku/nodejs, procfile), the name of a pack installed on the server, or a remote git URL (https://..., at most 512 characters, with an optional #ref).`},
		{"schedule", `{"cron": [{"command": "true", "schedule": "every ten minutes"}]}`, ` !     app.json: cron[0].schedule: Schedule "every ten minutes" is not valid (the interval is not a duration such as 10m): give a cron line such as "*/10 * * * *", @hourly, @daily or "every 10m".`},
		{"cron flood", `{"cron": [` + strings.Repeat(`{"command": "true", "schedule": "@hourly"},`, 50) + `{"command": "true", "schedule": "@hourly"}]}`, ` !     app.json: cron has 51 jobs: an app may declare at most 50.`},
	} {
		p := filepath.Join(dir, "app.json")
		_ = os.Remove(p)
		if tc.name == "link" {
			if err := os.Symlink("/etc/passwd", p); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, dir, "add", "-A")
		git(t, dir, "commit", "-qm", tc.name)
		out, err := s.push(dir, s.key, "hostile", "main")
		if err == nil || !hasRemoteLine(out, tc.want) {
			t.Errorf("%s: push: %v\n%s", tc.name, err, out)
		}
		if strings.Contains(out, "root:x:0:0") {
			t.Errorf("%s: the push shows /etc/passwd", tc.name)
		}
	}
	if rels := s.hako(t, "releases", "-a", "hostile"); !currentRelease(rels, 1) {
		t.Errorf("refused pushes made releases:\n%s", rels)
	}
	commitFile(t, dir, "app.json", `{"scripts": {"postdeploy": "echo seeding; exit 3"}}`)
	out, err := s.push(dir, s.key, "hostile", "main")
	if err != nil || !hasRemoteLine(out, " !     The postdeploy script `echo seeding; exit 3` exited with status 3; the release stays live.") {
		t.Fatalf("push with a failing postdeploy: %v\n%s", err, out)
	}
	s.waitBody(t, "hostile", "go")
	if logs := s.hako(t, "logs", "-a", "hostile", "-n", "500"); !hasLineMatch(logs, "\\S+ app\\[api\\]: The postdeploy script `echo seeding; exit 3` exited with status 3") {
		t.Errorf("the logs lack the failed postdeploy:\n%s", logs)
	}
}
