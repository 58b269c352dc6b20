package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAddons provisions a real PostgreSQL database and a Redis instance,
// uses them from dynos with the clients apps use, and checks that their
// data survives a server restart and that destroying them detaches them.
// Outputs are matched by whole lines: a one-off's name (run.4312) or a
// port may contain any short value.
func TestAddons(t *testing.T) {
	need(t, "python3", "psql", "redis-cli")
	s := startServer(t)
	s.hako(t, "apps:create", "stateful")
	if out, err := s.push(repo(t, "env-app"), s.key, "stateful", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	out := s.hako(t, "addons:create", "heroku-postgresql", "-a", "stateful")
	if !hasLine(out, "Creating heroku-postgresql on ⬢ stateful... done") || !hasLineMatch(out, `Created postgresql-[a-z]+-\d{5} as DATABASE_URL`) {
		t.Fatalf("addons:create heroku-postgresql:\n%s", out)
	}
	if out := s.hako(t, "addons:create", "heroku-redis", "-a", "stateful"); !hasLineMatch(out, `Created redis-[a-z]+-\d{5} as REDIS_URL`) {
		t.Fatalf("addons:create heroku-redis:\n%s", out)
	}
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "stateful"))
	if !strings.HasPrefix(dbURL, "postgres://") {
		t.Fatalf("DATABASE_URL = %q", dbURL)
	}
	// The URL every Redis 6+ client takes, redis-cli 7 included.
	redisURL := strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "stateful"))
	if !strings.HasPrefix(redisURL, "redis://default:") {
		t.Fatalf("REDIS_URL = %q, want redis://default:PASSWORD@HOST:PORT", redisURL)
	}
	s.waitPath(t, "stateful", "/env/DATABASE_URL", dbURL)
	rels := s.hako(t, "releases", "-a", "stateful")
	for _, want := range []string{`Attach DATABASE \(heroku-postgresql\)`, `Attach REDIS \(heroku-redis\)`} {
		if !hasLineMatch(rels, `v\d+\s+`+want+`\s.*`) {
			t.Errorf("releases lack %q:\n%s", want, rels)
		}
	}
	// runOut runs a one-off dyno and returns its output without the
	// "Running … up, run.N" line.
	runOut := func(cmd string) (string, error) {
		out, err := s.run("run", "-a", "stateful", "--no-tty", cmd)
		ls := lines(out)
		if len(ls) > 0 && strings.HasPrefix(ls[0], "Running ") {
			ls = ls[1:]
		}
		return strings.Join(ls, "\n"), err
	}
	if got, err := runOut(`psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qc 'create table kept (x int); insert into kept values (42)'`); err != nil || got != "" {
		t.Fatalf("psql in a one-off: %v\n%s", err, got)
	}
	if got, err := runOut(`redis-cli -u "$REDIS_URL" --no-auth-warning set kept 43`); err != nil || got != "OK" {
		t.Fatalf("redis-cli -u $REDIS_URL set in a one-off = %q, %v; want exactly OK", got, err)
	}
	if got, err := runOut(`redis-cli -u "$REDIS_URL" --no-auth-warning get kept`); err != nil || got != "43" {
		t.Fatalf("redis-cli -u $REDIS_URL get in a one-off = %q, %v; want exactly 43", got, err)
	}
	if got := redisCLI(t, s, "get kept\n"); got != "43" {
		t.Errorf("hako redis:cli get = %q, want exactly 43", got)
	}

	s.stop()
	s.start()
	var got string
	var err error
	waitFor(t, 30*time.Second, "the data after a restart", func() bool {
		got, err = runOut(`psql "$DATABASE_URL" -tAc 'select x from kept' && redis-cli -u "$REDIS_URL" --no-auth-warning get kept`)
		return err == nil && got == "42\n43"
	}, func() string { return got })

	if out := s.hako(t, "addons", "-a", "stateful"); !hasLine(out, " └─ as DATABASE") || !hasLine(out, " └─ as REDIS") {
		t.Errorf("addons:\n%s", out)
	}
	if out := s.hako(t, "pg:psql", "-a", "stateful", "-c", "select x * 2 as doubled from kept"); !hasLine(out, "      84") {
		t.Errorf("pg:psql:\n%s", out)
	}
	if got := redisCLI(t, s, "get kept\n"); got != "43" {
		t.Errorf("hako redis:cli after a restart = %q, want exactly 43", got)
	}
	if out := s.hako(t, "apps:info", "-a", "stateful"); !hasLineMatch(out, `Addons:\s+postgresql-[a-z]+-\d{5}, redis-[a-z]+-\d{5}`) {
		t.Errorf("apps:info lacks the add-ons:\n%s", out)
	}
	if out, err := s.run("addons:destroy", "DATABASE", "-a", "stateful"); err == nil || !strings.Contains(out, "--confirm stateful") {
		t.Errorf("destroy without --confirm: %v\n%s", err, out)
	}
	if out, err := s.run("addons:create", "heroku-kafka", "-a", "stateful"); err == nil || !strings.Contains(out, "hako offers heroku-postgresql, heroku-redis") {
		t.Errorf("unknown service: %v\n%s", err, out)
	}
	s.hako(t, "addons:destroy", "DATABASE", "-a", "stateful", "--confirm", "stateful")
	if v := s.hako(t, "config:get", "DATABASE_URL", "-a", "stateful"); v != "\n" {
		t.Errorf("DATABASE_URL still set after destroy: %q", v)
	}
	if out, err := s.run("run", "-a", "stateful", "--no-tty", "psql '"+dbURL+"' -c 'select 1'"); err == nil {
		t.Errorf("the destroyed database still answers:\n%s", out)
	}
	s.hako(t, "apps:destroy", "-a", "stateful", "--confirm", "stateful")
}

// redisCLI runs `hako redis:cli` with input on its standard input and
// returns its output, trimmed of the final newline.
func redisCLI(t *testing.T, s *server, input string) string {
	t.Helper()
	c := exec.Command(bin, "redis:cli", "-a", "stateful")
	c.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	c.Stdin = strings.NewReader(input)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Errorf("hako redis:cli: %v\n%s", err, out)
	}
	return strings.TrimRight(string(out), "\n")
}
