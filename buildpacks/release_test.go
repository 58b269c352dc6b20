package buildpacks

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseRelease(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		types   map[string]string
		vars    map[string]string
		addons  []string
		wantErr bool
	}{
		{name: "empty", in: ""},
		{name: "empty document", in: "--- {}\n"},
		{name: "go style", in: "---\ndefault_process_types:\n  web: hello-go\n", types: map[string]string{"web": "hello-go"}},
		{
			name: "everything, quoted and commented",
			in: "---\n# comment\naddons:\n  - heroku-postgresql:mini\n  - 'redis'\nconfig_vars:\n  LANG: \"en_US.UTF-8\"\n  QUOTE: 'it''s'\n" +
				"  ESC: \"a\\\"b\"\ndefault_process_types:\n  web: bundle exec puma -p ${PORT:-3000}\n  worker:   'rake jobs:work'\nunknown:\n  x: y\n",
			types:  map[string]string{"web": "bundle exec puma -p ${PORT:-3000}", "worker": "rake jobs:work"},
			vars:   map[string]string{"LANG": "en_US.UTF-8", "QUOTE": "it's", "ESC": `a"b`},
			addons: []string{"heroku-postgresql:mini", "redis"},
		},
		{name: "four-space indent, CRLF", in: "default_process_types:\r\n    web: ./run\r\n", types: map[string]string{"web": "./run"}},
		{name: "empty maps", in: "config_vars: {}\ndefault_process_types: {}\naddons: []\n"},
		{name: "entry without colon", in: "default_process_types:\n  web ./run\n", wantErr: true},
		{name: "unterminated quote", in: "config_vars:\n  A: \"x\n", wantErr: true},
		{name: "inline value", in: "default_process_types: web\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRelease(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseRelease = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.types == nil {
				tt.types = map[string]string{}
			}
			if tt.vars == nil {
				tt.vars = map[string]string{}
			}
			if !maps.Equal(got.DefaultProcessTypes, tt.types) || !maps.Equal(got.ConfigVars, tt.vars) || !slices.Equal(got.Addons, tt.addons) {
				t.Errorf("parseRelease = %+v, want types %v vars %v addons %v", got, tt.types, tt.vars, tt.addons)
			}
		})
	}
}

// The config vars profile sets the buildpack's values only where the
// app's config leaves a variable unset, whatever the value holds.
func TestConfigVarsProfile(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"TRICKY": "a\"b$c\\d`e'f}g\nh", "LANG": "C", "bad-name": "x"}
	if err := writeConfigVarsProfile(dir, vars); err != nil {
		t.Fatal(err)
	}
	script := ". ./" + configVarsProfile + "; printf '%s|%s' \"$TRICKY\" \"$LANG\""
	for _, shell := range []string{"sh", "bash"} {
		if _, err := exec.LookPath(shell); err != nil {
			continue
		}
		for _, tt := range []struct{ env, want string }{
			{"", vars["TRICKY"] + "|C"},
			{"LANG=en", vars["TRICKY"] + "|en"},
		} {
			cmd := exec.Command(shell, "-c", script)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			if tt.env != "" {
				cmd.Env = append(cmd.Env, tt.env)
			}
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != tt.want {
				t.Errorf("%s with %q: got %q, %v; want %q", shell, tt.env, out, err, tt.want)
			}
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, configVarsProfile))
	if strings.Contains(string(data), "bad-name") {
		t.Error("an invalid name was written")
	}
}
