package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHerokuCLI drives hako's API with the official heroku CLI, which
// talks to any HEROKU_HOST on localhost. It needs that CLI, so it runs
// only when HAKO_HEROKU_CLI names it:
//
//	npm install --prefix /tmp/heroku-cli heroku@11
//	HAKO_HEROKU_CLI=/tmp/heroku-cli/node_modules/.bin/heroku go test ./cmd/e2e -run HerokuCLI
func TestHerokuCLI(t *testing.T) {
	cli := os.Getenv("HAKO_HEROKU_CLI")
	if cli == "" {
		t.Skip("set HAKO_HEROKU_CLI to the heroku CLI to check compatibility")
	}
	need(t, "python3", "redis-server")
	s := startServer(t)
	s.hako(t, "apps:create", "compat")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "compat", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	token, err := os.ReadFile(filepath.Join(s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	heroku := func(args ...string) string {
		t.Helper()
		c := exec.Command(cli, args...)
		c.Env = append(os.Environ(), "HEROKU_HOST=http://127.0.0.1:"+s.apiPort, "HEROKU_API_KEY="+strings.TrimSpace(string(token)), "HOME="+t.TempDir())
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("heroku %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"apps"}, "compat"},
		{[]string{"apps:info", "-a", "compat"}, "Git URL:"},
		{[]string{"config:set", "GREETING=hi", "-a", "compat"}, "done, v3"},
		{[]string{"config", "-a", "compat"}, "GREETING: hi"},
		{[]string{"releases", "-a", "compat"}, "Set GREETING config vars"},
		{[]string{"ps:scale", "web=2", "-a", "compat"}, "now running web at 2"},
		{[]string{"ps", "-a", "compat"}, "web.2: up"},
		{[]string{"domains", "-a", "compat"}, "compat.localhost"},
		{[]string{"releases:rollback", "v2", "-a", "compat"}, "done, v4"},
		{[]string{"logs", "-a", "compat", "-n", "50"}, "State changed from starting to up"},
		{[]string{"maintenance:on", "-a", "compat"}, "done"},
		{[]string{"maintenance", "-a", "compat"}, "on"},
		{[]string{"addons:create", "heroku-redis", "-a", "compat"}, "as REDIS_URL"},
		{[]string{"addons", "-a", "compat"}, "└─ as REDIS"},
		{[]string{"addons:destroy", "REDIS", "-a", "compat", "--confirm", "compat"}, "done"},
	}
	for _, c := range cases {
		if out := heroku(c.args...); !strings.Contains(out, c.want) {
			t.Errorf("heroku %s lacks %q:\n%s", strings.Join(c.args, " "), c.want, out)
		}
	}
}
