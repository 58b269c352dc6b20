package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// api sends one request to the server's API with its token and returns
// the status and body.
func (s *server) api(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	var info struct {
		APIURL string `json:"api_url"`
		Token  string `json:"token"`
	}
	b, err := os.ReadFile(filepath.Join(s.home, "server.json"))
	if err == nil {
		err = json.Unmarshal(b, &info)
	}
	if err != nil || info.Token == "" {
		t.Fatalf("server.json: %v %s", err, b)
	}
	req, _ := http.NewRequest(method, info.APIURL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+info.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// config returns the app's config vars.
func (s *server) config(t *testing.T, app string) map[string]string {
	t.Helper()
	var cfg map[string]string
	if err := json.Unmarshal([]byte(s.hako(t, "config", "-a", app, "--json")), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// currentVersion returns the app's current release version.
func (s *server) currentVersion(t *testing.T, app string) int {
	t.Helper()
	var rel struct{ Version int }
	if err := json.Unmarshal([]byte(s.hako(t, "releases:info", "-a", app, "--json")), &rel); err != nil {
		t.Fatal(err)
	}
	return rel.Version
}

// TestStrictInput sends the lenient inputs hako used to accept, through
// SSH, the CLI and the API, and checks each is refused and changes
// nothing.
func TestStrictInput(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "strict")
	s.hako(t, "config:set", "-a", "strict", "KEEP=1")
	want := map[string]string{"KEEP": "1"}
	v := s.currentVersion(t, "strict")

	refused := func(what string, err error, out string, wantMsg string) {
		t.Helper()
		if err == nil || !hasLineMatch(out, ".*"+wantMsg+".*") {
			t.Errorf("%s: err=%v, want a refusal saying %q:\n%s", what, err, wantMsg, out)
		}
	}
	out, err := s.ssh(s.key, nil, "config:set", "-a", "strict", `"A=b`)
	refused("ssh with an unbalanced quote", err, out, "check its quotes")
	out, err = s.ssh(s.key, nil, "config:set", "-a", "strict", `'A=b`)
	refused("ssh with an unbalanced single quote", err, out, "check its quotes")
	out, err = s.ssh(s.key, nil, "config:set", "-a", "strict", "A=b\\")
	refused("ssh with a trailing backslash", err, out, "check its quotes")
	out, err = s.run("config:set", "-a", "strict", "A=x\xff\xfey")
	refused("CLI with invalid UTF-8", err, out, "not valid UTF-8")
	out, err = s.ssh(s.key, nil, "config:set", "-a", "strict", "A=x\xff\xfey")
	refused("ssh with invalid UTF-8", err, out, "not valid UTF-8")

	for _, c := range []struct{ name, method, path, body string }{
		{"invalid UTF-8", "PATCH", "/apps/strict/config-vars", "{\"A\":\"x\xffy\"}"},
		{"a lone surrogate", "PATCH", "/apps/strict/config-vars", `{"A":"x\udc80y"}`},
		{"trailing data", "PATCH", "/apps/strict/config-vars", `{"TG":"1"} xxx`},
		{"a rollback without release", "POST", "/apps/strict/releases", `{}`},
	} {
		if status, body := s.api(t, c.method, c.path, c.body); status != 422 {
			t.Errorf("API %s: %d %s, want 422", c.name, status, body)
		}
	}
	if got := s.config(t, "strict"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("config after refused inputs = %v, want %v", got, want)
	}
	if got := s.currentVersion(t, "strict"); got != v {
		t.Errorf("current release after refused inputs = v%d, want v%d", got, v)
	}
	// The balanced forms still work, over SSH as in the CLI.
	if out, err := s.ssh(s.key, nil, "config:set", "-a", "strict", `"A=b c"`, `'Q="x"'`); err != nil {
		t.Fatalf("ssh config:set with balanced quotes: %v\n%s", err, out)
	}
	if got := s.config(t, "strict"); got["A"] != "b c" || got["Q"] != `"x"` {
		t.Errorf("config after balanced quotes = %q", got)
	}
}

// TestOneOffsHaveDistinctNames runs two one-off dynos at once: both are
// listed in ps, with different names.
func TestOneOffsHaveDistinctNames(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "twins")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "twins", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	var stdins []io.WriteCloser
	for i := 0; i < 2; i++ {
		c := exec.Command(bin, "run", "-a", "twins", "--no-tty", "read line; echo got $line")
		c.Env = append(os.Environ(), "HAKO_HOME="+s.home)
		in, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdins = append(stdins, in)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close(); _ = c.Process.Kill(); _ = c.Wait() })
	}
	var runs []string
	waitFor(t, 20*time.Second, "both one-offs in ps", func() bool {
		runs = nil
		for _, d := range s.dynos(t, "twins") {
			if strings.HasPrefix(d.Name, "run.") {
				runs = append(runs, d.Name)
			}
		}
		return len(runs) == 2
	}, func() string { return fmt.Sprint(runs) })
	sort.Strings(runs)
	if runs[0] == runs[1] {
		t.Errorf("two one-offs share the name %s", runs[0])
	}
	for _, in := range stdins {
		in.Write([]byte("x\n"))
		in.Close()
	}
}

// TestRecreatedAppStartsWithEmptyLog checks that an app created with the
// name of a destroyed one does not inherit its log.
func TestRecreatedAppStartsWithEmptyLog(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "twins")
	s.hako(t, "config:set", "-a", "twins", "A=1")
	logs := s.hako(t, "logs", "-a", "twins")
	if !hasLineMatch(logs, `\S+ app\[api\]: Release v1 created by user .*`) {
		t.Fatalf("logs of the first app lack its v1 line:\n%s", logs)
	}
	s.hako(t, "apps:destroy", "-a", "twins", "--confirm", "twins")
	s.hako(t, "apps:create", "twins")
	logs = s.hako(t, "logs", "-a", "twins")
	if ls := lines(logs); len(ls) != 1 || !hasLineMatch(logs, `\S+ app\[api\]: Release v1 created by user .*`) {
		t.Errorf("logs of the re-created app, want only its v1 line:\n%s", logs)
	}
}
