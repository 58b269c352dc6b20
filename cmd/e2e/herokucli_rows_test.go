package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// cliRows are the commands of issue 9's list, in an order where each
// builds on hako's state as the rows before left it; a row that needs
// more sets it up first with hako's own CLI (before).
func cliRows(h *herokuEnv) []cliRow {
	web := "http://compat.localhost:" + h.s.httpPort + "/"
	api := "127.0.0.1:" + h.s.apiPort
	return []cliRow{
		// Apps.
		{args: a("apps"), lines: []string{"=== " + h.email + " Apps", "", "compat (local)"}},
		{args: a("apps:info", "-a", "compat"), lines: []string{"=== compat", "", "~Git URL: +.*/compat\\.git", "~Web URL: +" + regexpQuote(web), "Owner:     " + h.email, "Region:    local", "Dynos:     web: 1", "Stack:     heroku-24"}},
		{args: a("apps:info", "-a", "compat", "--json"), lines: []string{"~  \"app\": \\{", "~    \"name\": \"compat\",?", "~    \"web_url\": \"" + regexpQuote(web) + "\",?"}},
		{args: a("apps:create", "other"), lines: []string{"~Creating other\\.\\.\\. done"}, state: func(h *herokuEnv) error { return h.apiHas("/apps/other", `"name": "other"`) }},
		{args: a("apps:rename", "renamed", "-a", "other"), lines: []string{"~Renaming other to renamed\\.\\.\\. done"},
			state: func(h *herokuEnv) error { return h.apiHas("/apps/renamed", `"name": "renamed"`) }},
		{args: a("apps:destroy", "renamed", "--confirm", "renamed"), lines: []string{"~Destroying renamed \\(including all add-ons\\)\\.\\.\\. done"},
			state: func(h *herokuEnv) error { return h.apiMissing("/apps/renamed") }},
		{args: a("create", "made-here"), inRepo: true, lines: []string{"~Creating made-here\\.\\.\\. done", "~http://made-here\\.localhost:" + h.s.httpPort + "/ \\| https://" + regexpQuote(api) + "/made-here\\.git"},
			state: func(h *herokuEnv) error { return h.gitRemoteIs("heroku", "https://"+api+"/made-here.git") }},
		{args: a("git", "push", "heroku", "main"), inRepo: true, git: true, lines: []string{"~remote: +Released v2"},
			state: func(h *herokuEnv) error { return h.apiHas("/apps/made-here/releases/current", `"version": 2`) }},
		{args: a("git:remote", "-a", "compat"), inRepo: true, lines: []string{"set git remote heroku to https://" + api + "/compat.git"},
			state: func(h *herokuEnv) error { return h.gitLsRemote("heroku") }},

		// Config vars and releases.
		{args: a("config:set", "GREETING=hi there", "-a", "compat"), lines: []string{"~Setting GREETING and restarting compat\\.\\.\\. done, v3", "GREETING: hi there"},
			state: func(h *herokuEnv) error { return h.hakoHas(a("config:get", "GREETING", "-a", "compat"), "hi there") }},
		{args: a("config", "-a", "compat"), lines: []string{"=== compat Config Vars", "", "GREETING: hi there"}},
		{args: a("config", "--json", "-a", "compat"), lines: []string{"{", `  "GREETING": "hi there"`, "}"}},
		{args: a("config", "-s", "-a", "compat"), lines: []string{"GREETING='hi there'"}},
		{args: a("config:get", "GREETING", "-a", "compat"), lines: []string{"hi there"}},
		{args: a("config:unset", "GREETING", "-a", "compat"), lines: []string{"~Unsetting GREETING and restarting compat\\.\\.\\. done, v4"},
			state: func(h *herokuEnv) error { return h.configLacks("compat", "GREETING") }},
		{args: a("releases", "-a", "compat"), lines: []string{"=== compat Releases - Current: v4", "~  v4 +Remove GREETING config vars +" + h.email + " +.*", "~  v3 +Set GREETING config vars +.*", "~  v2 +Deploy [0-9a-f]{7} +.*", "~  v1 +Initial release +.*"}},
		{args: a("releases", "-n", "2", "-a", "compat"), lines: []string{"~  v4 +Remove GREETING config vars +.*", "~  v3 +Set GREETING config vars +.*"}, absent: []string{"~  v2 .*"}},
		{args: a("releases", "--json", "-a", "compat"), lines: []string{`~    "version": 4,?`, `~    "description": "Remove GREETING config vars",?`}},
		{args: a("releases:info", "-a", "compat"), lines: []string{"=== Release v4", "~Change: +Remove GREETING config vars"}},
		{args: a("releases:info", "v3", "-a", "compat"), lines: []string{"=== Release v3", "~Change: +Set GREETING config vars", "=== v3 Config vars", "", "GREETING: hi there"}},
		{args: a("releases:info", "--json", "-a", "compat"), lines: []string{`~  "version": 4,?`, `~  "description": "Remove GREETING config vars",?`}},
		{args: a("releases:rollback", "v3", "-a", "compat"), lines: []string{"~Rolling back compat to v3\\.\\.\\. done, v5"},
			state: func(h *herokuEnv) error { return h.hakoHas(a("config:get", "GREETING", "-a", "compat"), "hi there") }},
		{args: a("rollback", "v4", "-a", "compat"), lines: []string{"~Rolling back compat to v4\\.\\.\\. done, v6"},
			state: func(h *herokuEnv) error { return h.configLacks("compat", "GREETING") }},
		// A release without a release phase has no output, as on Heroku.
		{args: a("releases:output", "-a", "compat"), lines: []string{" ›   Warning: Release v6 has no release output available."}},

		// Dynos.
		{args: a("ps", "-a", "compat"), lines: []string{"=== web (Basic): python3 -m http.server $PORT (1)", "", "~web\\.1: up \\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d \\+0000 \\(~ .*\\)"}},
		{args: a("ps", "--json", "-a", "compat"), lines: []string{`~    "name": "web\.1",?`, `~    "type": "web",?`, `~    "state": "up",?`}},
		{args: a("ps:scale", "web=2", "-a", "compat"), lines: []string{"Scaling dynos... done, now running web at 2:Basic"},
			state: func(h *herokuEnv) error { return h.dynosUp("compat", "web.1", "web.2") }},
		{args: a("ps:type", "-a", "compat"), lines: []string{"=== Process Types", "", "~  web +Basic +2 .*", "=== Dyno Totals", "", "~  Basic +2"}},
		{args: a("ps:restart", "-a", "compat"), lines: []string{"~Restarting all dynos on compat\\.\\.\\. done"},
			state: func(h *herokuEnv) error {
				return h.logHas("compat", "~.* app\\[api\\]: Restart all dynos by user "+h.email)
			}},
		{args: a("ps:restart", "--dyno-name", "web.1", "-a", "compat"), lines: []string{"~Restarting dyno web\\.1 on compat\\.\\.\\. done"},
			state: func(h *herokuEnv) error {
				return h.logHas("compat", "~.* app\\[api\\]: Restart web\\.1 by user "+h.email)
			}},
		{args: a("ps:restart", "--process-type", "web", "-a", "compat"), lines: []string{"~Restarting all web dynos on compat\\.\\.\\. done"}},
		{args: a("ps:stop", "--dyno-name", "web.2", "-a", "compat"), lines: []string{"~Stopping dyno web\\.2 on compat\\.\\.\\. done"},
			state: func(h *herokuEnv) error {
				return h.logHas("compat", "~.* heroku\\[web\\.2\\]: Stopping all processes with SIGTERM")
			}},
		{args: a("ps:stop", "--process-type", "web", "-a", "compat"), lines: []string{"~Stopping all web dynos on compat\\.\\.\\. done"}},
		{args: a("ps:wait", "-a", "compat"), timeout: 25 * time.Second},

		// Logs.
		{args: a("logs", "-a", "compat"), lines: []string{"~.* heroku\\[web\\.1\\]: State changed from starting to up", "~.* app\\[api\\]: Restart web\\.1 by user " + h.email}},
		{args: a("logs", "-n", "1", "--source", "app", "-a", "compat"), lines: []string{"~\\S+ app\\[api\\]: .*"}, absent: []string{"~.* heroku\\[.*"}},
		{args: a("logs", "--tail", "-a", "compat"), tail: true, during: func(h *herokuEnv) { _, _ = h.hakoOut("config:set", "TAILED=1", "-a", "compat") },
			lines: []string{"~.* app\\[api\\]: Set TAILED config vars by user " + h.email}},
		{args: a("logs", "--dyno", "web.1", "-a", "compat"), lines: []string{"~.* heroku\\[web\\.1\\]: .*"}, absent: []string{"~.* heroku\\[web\\.2\\]: .*", "~.* app\\[api\\]: .*"}},
		{args: a("logs", "--dyno", "web", "-a", "compat"), lines: []string{"~.* heroku\\[web\\.1\\]: .*", "~.* heroku\\[web\\.2\\]: .*"}, absent: []string{"~.* app\\[api\\]: .*"}},
		{args: a("logs", "--process-type", "web", "-a", "compat"), lines: []string{"~.* heroku\\[web\\.1\\]: .*", "~.* heroku\\[web\\.2\\]: .*"}, absent: []string{"~.* app\\[api\\]: .*"}},
		{args: a("logs", "--source", "heroku", "-n", "5", "-a", "compat"), lines: []string{"~\\S+ heroku\\[.*"}, absent: []string{"~.* app\\[api\\]: .*"}},

		// One-off dynos.
		{args: a("run", "-a", "compat", "--", "echo", "hi"), lines: []string{"hi"}},
		{args: a("run", "--exit-code", "-a", "compat", "--", "sh", "-c", "exit 3"), fails: true, lines: []string{" ›   Error: Process exited with code 3"}},
		{args: a("run", "-a", "compat", "--", "bash", "-c", "tty; echo \"cols=$(tput cols 2>/dev/null || stty size)\""), tty: true, lines: []string{"~/dev/pts/\\d+", "cols=120"}},
		{args: a("run:detached", "-a", "compat", "--", "echo", "detached-hi"), lines: []string{"~Running echo detached-hi on compat\\.\\.\\. done, run\\.\\d+"},
			state: func(h *herokuEnv) error { return h.logHas("compat", "~.* app\\[run\\.\\d+\\]: detached-hi") }},

		// Domains.
		{args: a("domains", "-a", "compat"), lines: []string{"=== compat Heroku Domain", "", "compat.localhost"}},
		{args: a("domains", "--json", "-a", "compat"), lines: []string{`~    "hostname": "compat\.localhost",?`, `~    "kind": "heroku",?`}},
		{args: a("domains:add", "www.example.test", "-a", "compat"), lines: []string{"~Adding www\\.example\\.test to compat\\.\\.\\. done"},
			state: func(h *herokuEnv) error { return h.hakoHas(a("domains", "-a", "compat"), "www.example.test") }},
		{args: a("domains:info", "www.example.test", "-a", "compat"), before: func(h *herokuEnv) { _, _ = h.hakoOut("domains:add", "www.example.test", "-a", "compat") },
			lines: []string{"hostname:   www.example.test", "kind:       custom", "cname:      compat.localhost", "status:     succeeded", "app:        compat"}},
		{args: a("domains:remove", "www.example.test", "-a", "compat"), before: func(h *herokuEnv) { _, _ = h.hakoOut("domains:add", "www.example.test", "-a", "compat") },
			lines: []string{"~Removing www\\.example\\.test from compat\\.\\.\\. done"}, state: func(h *herokuEnv) error { return h.domainsAre("compat") }},
		{args: a("domains:clear", "-a", "compat"), before: func(h *herokuEnv) { _, _ = h.hakoOut("domains:add", "a.example.test", "-a", "compat") },
			lines: []string{"~Removing all domains from compat\\.\\.\\. done"}, state: func(h *herokuEnv) error { return h.domainsAre("compat") }},

		// Maintenance.
		{args: a("maintenance", "-a", "compat"), lines: []string{"off"}},
		{args: a("maintenance:on", "-a", "compat"), lines: []string{"~Enabling maintenance mode for compat\\.\\.\\. done"},
			state: func(h *herokuEnv) error { return h.routerStatus("compat", 503) }},
		{args: a("maintenance", "-a", "compat"), lines: []string{"on"}},
		{args: a("maintenance:off", "-a", "compat"), lines: []string{"~Disabling maintenance mode for compat\\.\\.\\. done"},
			state: func(h *herokuEnv) error { return h.routerStatus("compat", 200) }},

		// Add-ons and data.
		{args: a("addons:create", "heroku-postgresql", "-a", "compat"), lines: []string{"~Created postgresql-[a-z]+-\\d+ as DATABASE_URL"},
			state: func(h *herokuEnv) error { return h.configHas("compat", "DATABASE_URL") }},
		{args: a("addons:create", "heroku-redis", "-a", "compat"), lines: []string{"~Created redis-[a-z]+-\\d+ as REDIS_URL"},
			state: func(h *herokuEnv) error { return h.configHas("compat", "REDIS_URL") }},
		{args: a("addons", "-a", "compat"), lines: []string{"~  heroku-postgresql \\(postgresql-[a-z]+-\\d+\\) +essential-0 +free +free +created", "  └─ as DATABASE", "~  heroku-redis \\(redis-[a-z]+-\\d+\\) +mini +free +free +created", "  └─ as REDIS"}},
		{args: a("addons:info", "DATABASE", "-a", "compat"), lines: []string{"~=== postgresql-[a-z]+-\\d+", "~Plan: +heroku-postgresql:essential-0"}},
		{args: a("addons:services"), lines: []string{"~  heroku-postgresql +.*", "~  heroku-redis +.*"}},
		{args: a("addons:plans", "heroku-postgresql"), lines: []string{"~.*essential-0.*"}},
		{argf: func(h *herokuEnv) []string {
			return a("addons:attach", h.addonName("compat", "DATABASE"), "--as", "SECOND", "-a", "compat")
		}, lines: []string{"~Attaching postgresql-[a-z]+-\\d+ as SECOND to compat\\.\\.\\. done", "~Setting SECOND config vars and restarting compat\\.\\.\\. done, v\\d+"},
			state: func(h *herokuEnv) error { return h.configHas("compat", "SECOND_URL") }},
		{args: a("pg:info", "-a", "compat"), lines: []string{"=== DATABASE_URL, SECOND_URL", "~Plan: +Essential 0", "~Status: +Available", "~Connections: +\\d+/20", "~Add-on: +postgresql-[a-z]+-\\d+"}},
		{args: a("addons:detach", "SECOND", "-a", "compat"),
			lines: []string{"~Detaching SECOND to postgresql-[a-z]+-\\d+ from compat\\.\\.\\. done", "~Unsetting SECOND config vars and restarting compat\\.\\.\\. done, v\\d+"},
			state: func(h *herokuEnv) error { return h.configLacks("compat", "SECOND_URL") }},
		{args: a("pg:psql", "-c", "select 40 + 2 as answer", "-a", "compat"), lines: []string{" answer", "~-+", "     42", "(1 row)"}},
		{args: a("pg:credentials:url", "-a", "compat"), lines: []string{"Connection information for default credential.", "~  \"dbname=postgresql_[a-z]+_\\d+ host=127\\.0\\.0\\.1 port=\\d+ user=postgresql_[a-z]+_\\d+ password=[0-9a-f]+ sslmode=require\"", "~  postgres://postgresql_[a-z]+_\\d+:[0-9a-f]+@127\\.0\\.0\\.1:\\d+/postgresql_[a-z]+_\\d+"}},
		{args: a("redis:info", "-a", "compat"), lines: []string{"~=== redis-[a-z]+-\\d+ \\(REDIS_URL\\)", "~Plan: +Mini", "~Status: +Available", "~Memory: +.* MB / 25 MB \\(maxmemory\\)"}},
		{args: a("redis:cli", "-a", "compat", "-c", "compat"), stdin: "PING\n", lines: []string{"~Connecting to redis-[a-z]+-\\d+ \\(REDIS_URL\\):", "PONG"}},
		{args: a("addons:destroy", "REDIS", "-a", "compat", "--confirm", "compat"), lines: []string{"~Destroying redis-[a-z]+-\\d+ on compat\\.\\.\\. done"},
			state: func(h *herokuEnv) error { return h.configLacks("compat", "REDIS_URL") }},

		// Buildpacks.
		{args: a("buildpacks", "-a", "compat"), lines: []string{"compat has no Buildpacks."}},
		{args: a("buildpacks:set", "heroku/go", "-a", "compat"), lines: []string{"Buildpack set. Next release on compat will use heroku/go."},
			state: func(h *herokuEnv) error {
				return h.hakoHas(a("buildpacks", "-a", "compat"), "~(urn:buildpack:)?heroku/go")
			}},
		{args: a("buildpacks:add", "heroku/nodejs", "-a", "compat"), lines: []string{"Buildpack added. Next release on compat will use:", "  1. heroku/go", "  2. heroku/nodejs"}},
		{args: a("buildpacks", "-a", "compat"), lines: []string{"=== compat Classic Buildpacks (from the Heroku Buildpack Registry)", "", "1. heroku/go", "2. heroku/nodejs"}},
		{args: a("buildpacks:remove", "heroku/go", "-a", "compat"), lines: []string{"Buildpack removed. Next release on compat will use heroku/nodejs."},
			state: func(h *herokuEnv) error {
				return h.hakoHas(a("buildpacks", "-a", "compat"), "~(urn:buildpack:)?heroku/nodejs")
			}},
		{args: a("buildpacks:set", "https://github.com/heroku/heroku-buildpack-go", "-a", "compat"), lines: []string{"Buildpack set. Next release on compat will use https://github.com/heroku/heroku-buildpack-go."}},
		{args: a("buildpacks:clear", "-a", "compat"), lines: []string{"Buildpacks cleared. Next release on compat will detect buildpacks normally."},
			state: func(h *herokuEnv) error {
				return h.hakoHas(a("buildpacks", "-a", "compat"), "⬢ compat has no Buildpack URL set: builds detect one.")
			}},

		// Drains.
		{args: a("drains:add", "syslog://127.0.0.1:9", "-a", "compat"), lines: []string{"Successfully added drain syslog://127.0.0.1:9"},
			state: func(h *herokuEnv) error {
				return h.hakoHas(a("drains", "-a", "compat"), "~syslog://127\\.0\\.0\\.1:9.*")
			}},
		{args: a("drains", "-a", "compat"), lines: []string{"=== Drains", "", "~syslog://127\\.0\\.0\\.1:9 \\(.+\\)"}},
		{args: a("drains:remove", "syslog://127.0.0.1:9", "-a", "compat"), lines: []string{"Successfully removed drain syslog://127.0.0.1:9"},
			state: func(h *herokuEnv) error { return h.apiHas("/apps/compat/log-drains") }},

		// Account and platform.
		{args: a("features", "-a", "compat"), lines: []string{"=== App Features compat", "", "[+] preboot  Provide seamless web dyno deploys"}},
		{args: a("labs", "-a", "compat"), lines: []string{"=== User Features " + h.email, "=== App Features compat", "", "[+] runtime-dyno-metadata  Provide dyno metadata (HEROKU_APP_NAME, HEROKU_RELEASE_VERSION, HEROKU_SLUG_COMMIT) in the environment"}},
		{args: a("access", "-a", "compat"), lines: []string{"~  " + regexpQuote(h.email) + " +owner.*"}},
		{args: a("auth:whoami"), lines: []string{h.email}},
		{args: a("auth:token"), lines: []string{h.token}, absent: []string{"~.*Error.*"}},
		{args: a("keys"), lines: []string{"=== " + h.email + " keys", "", "~ssh-ed25519 AAAAC3NzaC\\.\\.\\.\\S{10} owner"}},
		{args: a("stack", "-a", "compat"), lines: []string{"=== compat Available Stacks", "", "* heroku-24"}},
		{args: a("regions"), lines: []string{"  ID      Location       Runtime", "~ ─+", "  local   This machine   Common Runtime"}},
		{args: a("open", "-a", "compat"), lines: []string{"Opening " + web + "..."}},

		// A release with a release phase has its output.
		{args: a("releases:output", "-a", "compat"), before: func(h *herokuEnv) { h.pushReleasePhase() }, lines: []string{"-----> Running release command...", "       release phase of compat"}},
	}
}

// a is a row's argument list.
func a(args ...string) []string { return args }

// regexpQuote quotes s for a "~" line.
func regexpQuote(s string) string {
	return strings.NewReplacer(".", "\\.", "+", "\\+", "(", "\\(", ")", "\\)", "?", "\\?", "*", "\\*", "[", "\\[", "|", "\\|").Replace(s)
}

// pushReleasePhase deploys the app again with a release phase that
// prints a line.
func (h *herokuEnv) pushReleasePhase() {
	procfile := "web: python3 -m http.server $PORT\nrelease: echo release phase of $HEROKU_APP_NAME\n"
	if err := os.WriteFile(filepath.Join(h.repo, "Procfile"), []byte(procfile), 0o644); err != nil {
		h.t.Fatal(err)
	}
	git(h.t, h.repo, "commit", "-qam", "release phase")
	if out, err := h.s.push(h.repo, h.s.key, "compat", "main"); err != nil {
		h.t.Fatalf("push: %v\n%s", err, out)
	}
}

// addonName is the name of the app's add-on attached as attachment.
func (h *herokuEnv) addonName(app, attachment string) string {
	_, body := h.s.api(h.t, "GET", "/apps/"+app+"/addons/"+attachment, "")
	var v struct{ Name string }
	_ = json.Unmarshal([]byte(body), &v)
	return v.Name
}

// apiMissing checks that GET path answers 404.
func (h *herokuEnv) apiMissing(path string) error {
	if code, body := h.s.api(h.t, "GET", path, ""); code != 404 {
		return fmt.Errorf("GET %s: %d %s, want 404", path, code, body)
	}
	return nil
}

// configHas checks that the app has the config var key.
func (h *herokuEnv) configHas(app, key string) error {
	out, err := h.hakoOut("config", "-a", app, "--json")
	if err != nil {
		return err
	}
	if !strings.Contains(out, `"`+key+`":`) {
		return fmt.Errorf("%s lacks config var %s: %s", app, key, out)
	}
	return nil
}

// configLacks checks that the app does not have the config var key.
func (h *herokuEnv) configLacks(app, key string) error {
	out, err := h.hakoOut("config", "-a", app, "--json")
	if err != nil {
		return err
	}
	if strings.Contains(out, `"`+key+`":`) {
		return fmt.Errorf("%s still has config var %s: %s", app, key, out)
	}
	return nil
}

// dynosUp waits until each named dyno of the app is up.
func (h *herokuEnv) dynosUp(app string, names ...string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		up := map[string]bool{}
		for _, d := range h.s.dynos(h.t, app) {
			up[d.Name] = d.State == "up"
		}
		missing := ""
		for _, n := range names {
			if !up[n] {
				missing = n
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s of %s is not up", missing, app)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logHas waits until the app's log holds a line.
func (h *herokuEnv) logHas(app, line string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := h.hakoOut("logs", "-a", app, "-n", "1500")
		if err != nil {
			return err
		}
		e := holdsLines(out, []string{line})
		if e == nil || time.Now().After(deadline) {
			return e
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// domainsAre checks that the app's custom domains are exactly want.
func (h *herokuEnv) domainsAre(app string, want ...string) error {
	code, body := h.s.api(h.t, "GET", "/apps/"+app+"/domains", "")
	if code != 200 {
		return fmt.Errorf("GET domains: %d %s", code, body)
	}
	got := []string{}
	for _, l := range strings.Split(body, "\n") {
		if host, ok := strings.CutPrefix(strings.TrimSpace(l), `"hostname": "`); ok {
			if host = strings.TrimSuffix(strings.TrimSuffix(host, ","), `"`); host != app+".localhost" {
				got = append(got, host)
			}
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		return fmt.Errorf("custom domains of %s: %v, want %v", app, got, want)
	}
	return nil
}

// routerStatus waits until the router answers the app with code.
func (h *herokuEnv) routerStatus(app string, code int) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, _, err := h.s.get(app, "/")
		if got == code {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("router: %s answers %d (%v), want %d", app, got, err, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// gitRemoteIs checks the URL of a remote of the repository.
func (h *herokuEnv) gitRemoteIs(remote, url string) error {
	out, err := exec.Command("git", "-C", h.repo, "remote", "get-url", remote).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != url {
		return fmt.Errorf("git remote %s: %q %v, want %s", remote, out, err, url)
	}
	return nil
}

// gitLsRemote checks that git reaches the app through the remote, as the
// CLI's credential helper lets it.
func (h *herokuEnv) gitLsRemote(remote string) error {
	c := exec.Command("git", "-C", h.repo, "ls-remote", remote)
	c.Env = h.env()
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "refs/heads/main") {
		return fmt.Errorf("git ls-remote %s: %v\n%s", remote, err, out)
	}
	return nil
}
