package engine

import (
	"strings"
	"testing"
)

func TestParseAppJSONTest(t *testing.T) {
	for _, tc := range []struct {
		name, in, err string
		want          *AppTest
	}{
		{"none", `{"env": {"A": "b"}}`, "", nil},
		{"other environments only", `{"environments": {"review": {}}}`, "", nil},
		{"defaults", `{"environments": {"test": {}}}`, "", &AppTest{Nodes: 1}},
		{"full", `{"environments": {"test": {"scripts": {"test-setup": "bin/setup", "test": "go test ./..."}, "formation": {"test": {"quantity": 4}}}}}`, "",
			&AppTest{TestSetup: "bin/setup", Test: "go test ./...", Nodes: 4}},
		{"quantity too big", `{"environments": {"test": {"formation": {"test": {"quantity": 33}}}}}`, "app.json: environments.test.formation.test.quantity must be a whole number from 1 to 32", nil},
		{"quantity zero", `{"environments": {"test": {"formation": {"test": {"quantity": 0}}}}}`, "app.json: environments.test.formation.test.quantity must be a whole number from 1 to 32", nil},
		{"other process type", `{"environments": {"test": {"formation": {"web": {"quantity": 1}}}}}`, `app.json: environments.test.formation.web must be left out: a test run's only process type is "test"`, nil},
		{"script type", `{"environments": {"test": {"scripts": {"test": ["go", "test"]}}}}`, "app.json: environments.test.scripts.test must be a string", nil},
		{"env key", `{"environments": {"test": {"env": {"A-B": "x"}}}}`, "app.json: environments.test.env.A-B: ", nil},
		{"addon", `{"environments": {"test": {"addons": [3]}}}`, "app.json: environments.test.addons[0] must be a string or an object", nil},
		{"not an object", `{"environments": {"test": []}}`, "app.json: environments.test must be an object", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAppJSON([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(ErrorMessage(err), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := a.Test
			if (got == nil) != (tc.want == nil) {
				t.Fatalf("Test = %+v, want %+v", got, tc.want)
			}
			if got != nil && (got.Nodes != tc.want.Nodes || got.Test != tc.want.Test || got.TestSetup != tc.want.TestSetup) {
				t.Errorf("Test = %+v, want %+v", got, tc.want)
			}
		})
	}
	a, err := ParseAppJSON([]byte(`{"environments": {"test": {"env": {"K": "v", "S": {"generator": "secret"}}, "addons": ["heroku-postgresql:in-dyno"], "buildpacks": [{"url": "heroku/go"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.Test.Env["K"].Value != "v" || a.Test.Env["S"].Generator != "secret" || len(a.Test.Addons) != 1 || a.Test.Addons[0].Plan != "heroku-postgresql:in-dyno" || len(a.Test.Buildpacks) != 1 {
		t.Errorf("Test = %+v", a.Test)
	}
}

func TestTestCommand(t *testing.T) {
	if _, err := testCommand(&AppTest{}, nil); ErrorCode(err) != EINVALID {
		t.Errorf("no test and no pack: err = %v, want EINVALID", err)
	}
	// The scripts are never part of the command line: they come from the
	// environment, so that no quoting of theirs can change the wrapper.
	cmd, err := testCommand(&AppTest{TestSetup: `echo "; exit 0`, Test: `'; rm -rf /`}, []string{".hako-ci/packs/0"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cmd, "rm -rf") || strings.Contains(cmd, "exit 0") || !strings.Contains(cmd, `"$HAKO_TEST_SETUP"`) || strings.Contains(cmd, "packs/0") {
		t.Errorf("command = %q", cmd)
	}
	cmd, err = testCommand(&AppTest{}, []string{".hako-ci/packs/0", ".hako-ci/packs/2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"$HOME/.hako-ci/packs/0/bin/test" "$HOME" "$env_dir" || status=$?`, `"$HOME/.hako-ci/packs/2/bin/test" "$HOME" "$env_dir" || status=$?`, "exit $status"} {
		if !strings.Contains(cmd, want+"\n") {
			t.Errorf("command lacks %q:\n%s", want, cmd)
		}
	}
}

func TestPrefixWriter(t *testing.T) {
	var out strings.Builder
	pw := &prefixWriter{w: &out, prefix: "test.2 | "}
	for _, w := range []string{"one\ntw", "o\n", "", "three"} {
		if n, err := pw.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	pw.Flush()
	if got, want := out.String(), "test.2 | one\ntest.2 | two\ntest.2 | three\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}
