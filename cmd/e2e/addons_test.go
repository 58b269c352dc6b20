package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestAddons provisions a real PostgreSQL database and a Redis instance,
// uses them from dynos, and checks that their data survives a server
// restart and that destroying them detaches them.
func TestAddons(t *testing.T) {
	need(t, "python3", "psql", "redis-cli")
	s := startServer(t)
	s.hako(t, "apps:create", "stateful")
	if out, err := s.push(repo(t, "env-app"), s.key, "stateful", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	out := s.hako(t, "addons:create", "heroku-postgresql", "-a", "stateful")
	if !strings.Contains(out, "Creating heroku-postgresql on ⬢ stateful... done") || !strings.Contains(out, "as DATABASE_URL") {
		t.Fatalf("addons:create heroku-postgresql:\n%s", out)
	}
	if out := s.hako(t, "addons:create", "heroku-redis", "-a", "stateful"); !strings.Contains(out, "as REDIS_URL") {
		t.Fatalf("addons:create heroku-redis:\n%s", out)
	}
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "stateful"))
	if !strings.HasPrefix(dbURL, "postgres://") {
		t.Fatalf("DATABASE_URL = %q", dbURL)
	}
	s.waitPath(t, "stateful", "/env/DATABASE_URL", dbURL)
	rels := s.hako(t, "releases", "-a", "stateful")
	for _, want := range []string{"Attach DATABASE (heroku-postgresql)", "Attach REDIS (heroku-redis)"} {
		if !strings.Contains(rels, want) {
			t.Errorf("releases lack %q:\n%s", want, rels)
		}
	}
	s.hako(t, "run", "-a", "stateful", "--no-tty", `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qc 'create table kept (x int); insert into kept values (42)'`)
	s.hako(t, "run", "-a", "stateful", "--no-tty", `redis-cli -u "$REDIS_URL" --no-auth-warning set kept 43`)

	s.stop()
	s.start()
	var got string
	waitFor(t, 30*time.Second, "the data after a restart", func() bool {
		got, _ = s.run("run", "-a", "stateful", "--no-tty", `psql "$DATABASE_URL" -tAc 'select x from kept'; redis-cli -u "$REDIS_URL" --no-auth-warning get kept`)
		return strings.Contains(got, "42") && strings.Contains(got, "43")
	}, func() string { return got })

	if out := s.hako(t, "addons", "-a", "stateful"); !strings.Contains(out, "└─ as DATABASE") || !strings.Contains(out, "└─ as REDIS") {
		t.Errorf("addons:\n%s", out)
	}
	if out := s.hako(t, "pg:psql", "-a", "stateful", "-c", "select x * 2 from kept"); !strings.Contains(out, "84") {
		t.Errorf("pg:psql:\n%s", out)
	}
	if out := s.hako(t, "apps:info", "-a", "stateful"); !strings.Contains(out, "Addons:      postgresql-") {
		t.Errorf("apps:info lacks the add-ons:\n%s", out)
	}
	if out, err := s.run("addons:destroy", "DATABASE", "-a", "stateful"); err == nil || !strings.Contains(out, "--confirm stateful") {
		t.Errorf("destroy without --confirm: %v\n%s", err, out)
	}
	if out, err := s.run("addons:create", "heroku-kafka", "-a", "stateful"); err == nil || !strings.Contains(out, "hako offers heroku-postgresql, heroku-redis") {
		t.Errorf("unknown service: %v\n%s", err, out)
	}
	s.hako(t, "addons:destroy", "DATABASE", "-a", "stateful", "--confirm", "stateful")
	if v := s.hako(t, "config:get", "DATABASE_URL", "-a", "stateful"); strings.TrimSpace(v) != "" {
		t.Errorf("DATABASE_URL still set after destroy: %q", v)
	}
	if out, err := s.run("run", "-a", "stateful", "--no-tty", "psql '"+dbURL+"' -c 'select 1'"); err == nil {
		t.Errorf("the destroyed database still answers:\n%s", out)
	}
	s.hako(t, "apps:destroy", "-a", "stateful", "--confirm", "stateful")
}
