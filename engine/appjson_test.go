package engine

import (
	"testing"
	"time"
)

func TestParseAppJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
	}{
		{"quantity not a number", `{"formation": {"web": {"quantity": "1"}}}`, "app.json: formation.web.quantity must be a number"},
		{"quantity too big", `{"formation": {"web": {"quantity": 1000}}}`, "app.json: formation.web.quantity must be a whole number from 0 to 100"},
		{"malformed", "{\n  \"env\": {\n    \"A\": 1,,\n}", "app.json: invalid character ',' looking for beginning of object key string at line 3, column 12"},
		{"truncated", "{\"env\": {", "app.json: unexpected end of the file at line 1, column 10"},
		{"empty", "  ", "app.json: the file is empty; it must hold a JSON object"},
		{"not an object", `[1]`, "app.json: the file must hold a JSON object"},
		{"trailing", `{} {}`, "app.json: unexpected data after the top-level object at line 1, column 4"},
		{"env value type", `{"env": {"A": {"value": 3}}}`, "app.json: env.A.value must be a string"},
		{"env bad key", `{"env": {"A-B": "x"}}`, ""},
		{"generator", `{"env": {"A": {"generator": "uuid"}}}`, `app.json: env.A.generator must be "secret" (the only generator)`},
		{"addon", `{"addons": [3]}`, "app.json: addons[0] must be a string or an object"},
		{"check command", `{"healthchecks": {"web": [{"type": "startup", "command": ["true"]}]}}`, "app.json: healthchecks.web[0].command must be left out: hako checks a path over HTTP (use path)"},
		{"check attempts", `{"healthchecks": {"web": [{"attempts": 0}]}}`, "app.json: healthchecks.web[0].attempts must be a whole number from 1 to 100"},
		{"cron", `{"cron": [{"command": "x"}]}`, `app.json: cron[0].schedule must be a schedule such as "@daily"`},
		{"scripts", `{"scripts": {"postdeploy": ["x"]}}`, "app.json: scripts.postdeploy must be a string"},
		{"unknown keys kept", `{"name": "x", "logo": 3, "stack": {"a": 1}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAppJSON([]byte(tc.in))
			if tc.name == "env bad key" {
				if err == nil || ErrorCode(err) != EINVALID {
					t.Fatalf("err = %v, want EINVALID", err)
				}
				return
			}
			got := ""
			if err != nil {
				got = ErrorMessage(err)
			}
			if got != tc.err {
				t.Errorf("err = %q\nwant  %q", got, tc.err)
			}
		})
	}
}

func TestParseAppJSONFull(t *testing.T) {
	a, err := ParseAppJSON([]byte(`{
	  "name": "demo",
	  "env": {"PLAIN": "p", "SECRET": {"generator": "secret"}, "NEED": {"required": true}, "DEF": {"value": "d", "description": "x"}},
	  "addons": ["heroku-postgresql", {"plan": "heroku-redis:mini", "as": "CACHE"}],
	  "formation": {"worker": {"quantity": 2, "size": "basic"}},
	  "buildpacks": [{"url": "heroku/nodejs"}],
	  "scripts": {"postdeploy": "bin/seed", "dokku": {"predeploy": "a", "postdeploy": "b"}},
	  "healthchecks": {"web": [{"type": "startup", "path": "/up", "content": "go", "attempts": 2, "timeout": 1, "wait": 0}, {"type": "liveness", "name": "live"}]},
	  "cron": [{"command": "bin/cleanup", "schedule": "@daily"}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if e := a.Env["NEED"]; !e.Required || e.HasValue {
		t.Errorf("NEED = %+v", e)
	}
	if e := a.Env["PLAIN"]; e.Value != "p" || !e.HasValue {
		t.Errorf("PLAIN = %+v", e)
	}
	if a.Env["SECRET"].Generator != "secret" {
		t.Errorf("SECRET = %+v", a.Env["SECRET"])
	}
	if len(a.Addons) != 2 || a.Addons[1] != (AppAddon{Plan: "heroku-redis:mini", As: "CACHE"}) {
		t.Errorf("addons = %+v", a.Addons)
	}
	if a.Formation["worker"].Quantity != 2 || a.Buildpacks[0] != "heroku/nodejs" {
		t.Errorf("formation %+v buildpacks %v", a.Formation, a.Buildpacks)
	}
	if a.Scripts != (AppScripts{Postdeploy: "bin/seed", DokkuPredeploy: "a", DokkuPostdeploy: "b"}) {
		t.Errorf("scripts = %+v", a.Scripts)
	}
	want := Healthcheck{Type: "startup", Name: "check-1", Path: "/up", Content: "go", Attempts: 2, Timeout: time.Second, Wait: 0}
	if got := a.Checks("web", CheckStartup); len(got) != 1 || got[0] != want {
		t.Errorf("startup = %+v", got)
	}
	if got := a.Checks("web", CheckLiveness); len(got) != 1 || got[0].Name != "live" || got[0].Path != "/" || got[0].Attempts != 3 {
		t.Errorf("liveness = %+v", got)
	}
	if len(a.Cron) != 1 || a.Cron[0] != (CronSpec{Command: "bin/cleanup", Schedule: "@daily"}) {
		t.Errorf("cron = %+v", a.Cron)
	}
}

func TestDeclaredFormation(t *testing.T) {
	aj := &AppJSON{Formation: map[string]AppFormation{"worker": {Quantity: 1}, "clock": {Quantity: 1}}}
	types := map[string]string{"worker": "w"}
	f, changed := declaredFormation(nil, types, aj)
	if !changed || f["worker"] != 1 || len(f) != 1 {
		t.Errorf("first deploy = %v %v", f, changed)
	}
	// ps:scale stays the user's: a known type keeps its quantity.
	f, changed = declaredFormation(map[string]int{"worker": 0}, types, aj)
	if changed || f["worker"] != 0 {
		t.Errorf("later deploy = %v %v", f, changed)
	}
	// A type new to the app gets its declared quantity.
	f, changed = declaredFormation(map[string]int{"worker": 0}, map[string]string{"worker": "w", "clock": "c"}, aj)
	if !changed || f["clock"] != 1 || f["worker"] != 0 {
		t.Errorf("new type = %v %v", f, changed)
	}
}
