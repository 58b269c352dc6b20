package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHerokuCLIPipelines drives hako's pipelines with the official heroku
// CLI (when HAKO_HEROKU_CLI names it, as TestHerokuCLI): its
// pipelines:create makes the pipeline with its first app, pipelines:info
// lists the stages' apps, pipelines:promote promotes the slug and reports
// each target's outcome.
func TestHerokuCLIPipelines(t *testing.T) {
	cli := os.Getenv("HAKO_HEROKU_CLI")
	if cli == "" {
		t.Skip("set HAKO_HEROKU_CLI to the heroku CLI to check compatibility")
	}
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "hk-staging")
	s.hako(t, "apps:create", "hk-prod")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "hk-staging", "main"); err != nil {
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
	// pipelines:create asks for GET /users/~, the owner of the pipeline.
	heroku("pipelines:create", "hk-line", "-a", "hk-staging", "-s", "staging")
	heroku("pipelines:add", "hk-line", "-a", "hk-prod", "-s", "production")
	if out := heroku("pipelines:info", "hk-line"); !hasLineMatch(out, `\s*hk-staging\s+staging\s*`) || !hasLineMatch(out, `\s*hk-prod\s+production\s*`) {
		t.Errorf("heroku pipelines:info:\n%s", out)
	}
	if out := heroku("pipelines:promote", "-a", "hk-staging"); !hasLine(out, "Promotion successful") || !hasLineMatch(out, `\s*hk-prod: succeeded\s*`) {
		t.Errorf("heroku pipelines:promote:\n%s", out)
	}
	if _, desc := s.releaseSlug(t, "hk-prod", ""); desc != "Promote hk-staging v2" {
		t.Errorf("hk-prod's release = %q", desc)
	}
}
