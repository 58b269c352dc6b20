package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// redisAuthFailed is what redis-cli 7 prints for a password the server
// refuses.
const redisAuthFailed = "AUTH failed: WRONGPASS invalid username-password pair or user is disabled."

// sharedRedis is a Redis add-on of cache-owner attached to cache-reader
// as SHARED_REDIS, both apps running env-app, with a member of
// cache-reader only and a stranger.
type sharedRedis struct {
	d     *attachedDB // the server, and the users' keys and tokens
	addon string
	pg    string // cache-owner's heroku-postgresql add-on
}

func newSharedRedis(t *testing.T) *sharedRedis {
	t.Helper()
	s := startServer(t)
	r := &sharedRedis{d: &attachedDB{s: s, keys: map[string]string{}, tokens: map[string]string{}}}
	for _, app := range []string{"cache-owner", "cache-reader"} {
		s.hako(t, "apps:create", app)
		if out, err := s.push(repo(t, "env-app"), s.key, app, "main"); err != nil {
			t.Fatalf("push %s: %v\n%s", app, err, out)
		}
	}
	s.hako(t, "addons:create", "heroku-redis", "-a", "cache-owner")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "cache-owner")
	h := &herokuEnv{t: t, s: s}
	r.addon, r.pg = h.addonName("cache-owner", "REDIS"), h.addonName("cache-owner", "DATABASE")
	s.hako(t, "addons:attach", r.addon, "--as", "SHARED_REDIS", "-a", "cache-reader")
	for _, who := range []string{"member", "stranger"} {
		key := s.keygen(who)
		s.hako(t, "users:add", who+"@example.test", "--key", key+".pub")
		out, err := s.ssh(key, nil, "auth:tokens:create", "-s", "-d", "redis")
		if err != nil {
			t.Fatalf("%s: auth:tokens:create: %v\n%s", who, err, out)
		}
		r.d.keys[who], r.d.tokens[who] = key, strings.TrimSpace(out)
	}
	s.hako(t, "access:add", "member@example.test", "-a", "cache-reader")
	return r
}

// redisCLIOut runs redis-cli against url on this machine, as a client
// holding that URL would.
func redisCLIOut(url string, args ...string) (string, error) {
	return exec2("redis-cli", append([]string{"-u", url, "--no-auth-warning"}, args...)...)
}

// TestRedisCredentialsReset: redis:credentials --reset, named through
// the app the add-on is attached to, gives the real redis-server a new
// password: the old URL is refused at once (AUTH fails) and the new one
// reaches the same data; both apps' config vars carry the new URL, each
// set in a release ("Update NAME by heroku-redis") whose dynos replaced
// the old ones and see it; a server restart keeps the new password. A
// stranger, another service's add-on and an unknown one are refused and
// change nothing.
func TestRedisCredentialsReset(t *testing.T) {
	need(t, "python3", "redis-cli", "psql")
	r := newSharedRedis(t)
	s, d := r.d.s, r.d
	old := strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "cache-owner"))
	if out, err := redisCLIOut(old, "set", "kept", "44"); err != nil || strings.TrimSpace(out) != "OK" {
		t.Fatalf("redis-cli set with REDIS_URL: %v\n%s", err, out)
	}
	if out := s.hako(t, "redis:credentials", "-a", "cache-owner"); out != old+"\n" {
		t.Fatalf("redis:credentials -a cache-owner = %q, want the REDIS_URL line %q", out, old)
	}
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "cache-owner"))
	before := map[string]dynoStatus{}
	for _, app := range []string{"cache-owner", "cache-reader"} {
		ds := s.dynos(t, app)
		if len(ds) != 1 || ds[0].State != "up" {
			t.Fatalf("%s's dynos before: %+v", app, ds)
		}
		before[app] = ds[0]
	}
	unchanged := func(what string) {
		t.Helper()
		if got := strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "cache-owner")); got != old {
			t.Fatalf("%s changed REDIS_URL", what)
		}
		if got := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "cache-owner")); got != dbURL {
			t.Fatalf("%s changed DATABASE_URL", what)
		}
		if out, err := redisCLIOut(old, "get", "kept"); err != nil || strings.TrimSpace(out) != "44" {
			t.Fatalf("after %s, the old URL: %v\n%s", what, err, out)
		}
		for _, app := range []string{"cache-owner", "cache-reader"} {
			if ds := s.dynos(t, app); len(ds) != 1 || ds[0].Release.Version != before[app].Release.Version {
				t.Fatalf("after %s, %s's dynos: %+v", what, app, ds)
			}
		}
	}

	// Refusals: a stranger, through each route; another service's
	// add-on; an unknown one.
	if out, err := s.ssh(d.keys["stranger"], nil, "redis:credentials", "--reset", "-a", "cache-owner"); err == nil || !hasLine(out, " ▸    You do not have access to the app cache-owner.") {
		t.Errorf("stranger: redis:credentials --reset: %v\n%s", err, out)
	}
	if code, body := d.apiAs(t, "stranger", "POST", "/apps/cache-owner/redis-actions/reset-credentials", `{}`); code != 403 {
		t.Errorf("stranger: API reset: %d %s", code, body)
	}
	if code, body := d.apiAs(t, "stranger", "POST", "/redis/v0/databases/"+r.addon+"/credentials_rotation", `{}`); code != 404 {
		t.Errorf("stranger: Data API rotation: %d %s", code, body)
	}
	if code, body := d.apiAs(t, "member", "POST", "/apps/cache-owner/redis-actions/reset-credentials", `{}`); code != 403 {
		t.Errorf("member of cache-reader only: API reset through cache-owner: %d %s", code, body)
	}
	for _, c := range []struct{ arg, want string }{
		{"DATABASE", " ▸    " + r.pg + " is a heroku-postgresql add-on: the redis commands act on heroku-redis add-ons only."},
		{r.pg, " ▸    " + r.pg + " is a heroku-postgresql add-on: the redis commands act on heroku-redis add-ons only."},
		{"NOPE", " ▸    Unknown Redis add-on: NOPE. Valid options are: REDIS_URL"},
	} {
		if out, err := s.run("redis:credentials", c.arg, "--reset", "-a", "cache-owner"); err == nil || !hasLine(out, c.want) {
			t.Errorf("redis:credentials %s --reset: %v, want %q\n%s", c.arg, err, c.want, out)
		}
	}
	if code, body := s.api(t, "POST", "/redis/v0/databases/"+r.pg+"/credentials_rotation", `{}`); code != 404 || !strings.Contains(body, `"Couldn't find that heroku-redis database."`) {
		t.Errorf("Data API rotation of the PostgreSQL add-on: %d %s", code, body)
	}
	if code, body := s.api(t, "POST", "/redis/v0/databases/redis-nosuch-00000/credentials_rotation", `{}`); code != 404 {
		t.Errorf("Data API rotation of an unknown add-on: %d %s", code, body)
	}
	unchanged("the refusals")

	// The member resets it through cache-reader.
	out, err := s.ssh(d.keys["member"], nil, "redis:credentials", "SHARED_REDIS", "--reset", "-a", "cache-reader")
	if err != nil || !hasLine(out, "Resetting credentials for "+r.addon) ||
		!hasLineMatch(out, `⬢ cache-owner: v\d+ Update REDIS by heroku-redis`) || !hasLineMatch(out, `⬢ cache-reader: v\d+ Update SHARED_REDIS by heroku-redis`) {
		t.Fatalf("member: redis:credentials SHARED_REDIS --reset -a cache-reader: %v\n%s", err, out)
	}
	fresh := strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "cache-owner"))
	ou, _ := url.Parse(old)
	nu, _ := url.Parse(fresh)
	if fresh == old || nu == nil || nu.User.String() == ou.User.String() || nu.User.Username() != "default" || nu.Host != ou.Host {
		t.Fatalf("REDIS_URL after the reset = %q (old %q)", fresh, old)
	}
	if got := strings.TrimSpace(s.hako(t, "config:get", "SHARED_REDIS_URL", "-a", "cache-reader")); got != fresh {
		t.Errorf("cache-reader's SHARED_REDIS_URL = %q, want cache-owner's new REDIS_URL", got)
	}
	if got := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "cache-owner")); got != dbURL {
		t.Errorf("the reset changed DATABASE_URL")
	}
	if out := s.hako(t, "redis:credentials", "-a", "cache-owner"); out != fresh+"\n" {
		t.Errorf("redis:credentials after the reset = %q, want %q", out, fresh)
	}
	for app, desc := range map[string]string{"cache-owner": "REDIS", "cache-reader": "SHARED_REDIS"} {
		if rel := s.hako(t, "releases", "-a", app, "-n", "1"); !hasLineMatch(rel, `v\d+\s+Update `+desc+` by heroku-redis\s+.*`) {
			t.Errorf("%s's latest release:\n%s", app, rel)
		}
	}

	// The old password is refused by the server, the new one works.
	if out, _ := redisCLIOut(old, "get", "kept"); !hasLine(out, redisAuthFailed) || !hasLine(out, "NOAUTH Authentication required.") {
		t.Errorf("redis-cli with the old URL:\n%s", out)
	}
	if out, err := redisCLIOut(fresh, "get", "kept"); err != nil || out != "44\n" {
		t.Errorf("redis-cli with the new URL: %v\n%s", err, out)
	}

	// Both apps' dynos were replaced by ones of the new release, which see
	// the new URL and reach Redis with it.
	for _, app := range []string{"cache-owner", "cache-reader"} {
		var last string
		waitFor(t, 60*time.Second, app+"'s dyno of the new release", func() bool {
			ds := s.dynos(t, app)
			last = s.hako(t, "ps", "-a", app)
			return len(ds) == 1 && ds[0].State == "up" && ds[0].PID != before[app].PID && ds[0].Release.Version > before[app].Release.Version
		}, func() string { return last })
	}
	s.waitPath(t, "cache-owner", "/env/REDIS_URL", fresh)
	s.waitPath(t, "cache-reader", "/env/SHARED_REDIS_URL", fresh)
	if out, err := s.run("run", "-a", "cache-reader", "--no-tty", `redis-cli -u "$SHARED_REDIS_URL" --no-auth-warning get kept`); err != nil || !hasLine(out, "44") {
		t.Errorf("cache-reader's one-off with SHARED_REDIS_URL: %v\n%s", err, out)
	}

	// The server comes back with the new password, not the old one.
	s.stop()
	s.start()
	var got string
	waitFor(t, 30*time.Second, "Redis after a server restart", func() bool {
		got, err = redisCLIOut(fresh, "get", "kept")
		return err == nil && got == "44\n"
	}, func() string { return got })
	if out, _ := redisCLIOut(old, "get", "kept"); !hasLine(out, redisAuthFailed) {
		t.Errorf("after a server restart, redis-cli with the old URL:\n%s", out)
	}
}

// TestRedisCredentialsHerokuCLI: the heroku CLI's redis:credentials
// prints the app's REDIS_URL, and with --reset (through the Data API's
// credentials_rotation) gives the real redis-server a new password: the
// old URL is refused, the new one, now the app's REDIS_URL, works.
func TestRedisCredentialsHerokuCLI(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "redis-cli")
	s := startServer(t)
	h := &herokuEnv{t: t, s: s, cli: cli, home: t.TempDir()}
	h.setUp()
	s.hako(t, "addons:create", "heroku-redis", "-a", "compat")
	addon := h.addonName("compat", "REDIS")
	old := strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "compat"))
	if out, err := redisCLIOut(old, "set", "kept", "45"); err != nil || strings.TrimSpace(out) != "OK" {
		t.Fatalf("redis-cli set with REDIS_URL: %v\n%s", err, out)
	}
	if out, err := h.run(cliRow{args: []string{"redis:credentials", "-a", "compat"}}); err != nil || !hasLine(out, old) {
		t.Fatalf("heroku redis:credentials -a compat: %v\n%s", err, out)
	}
	out, err := h.run(cliRow{args: []string{"redis:credentials", "--reset", "-a", "compat"}})
	if err != nil || !hasLine(out, "Resetting credentials for "+addon) {
		t.Fatalf("heroku redis:credentials --reset -a compat: %v\n%s", err, out)
	}
	fresh := strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "compat"))
	if fresh == old {
		t.Fatalf("REDIS_URL unchanged after heroku redis:credentials --reset")
	}
	if rel := s.hako(t, "releases", "-a", "compat", "-n", "1"); !hasLineMatch(rel, `v\d+\s+Update REDIS by heroku-redis\s+.*`) {
		t.Errorf("compat's latest release:\n%s", rel)
	}
	if out, _ := redisCLIOut(old, "get", "kept"); !hasLine(out, redisAuthFailed) {
		t.Errorf("redis-cli with the old URL:\n%s", out)
	}
	if out, err := redisCLIOut(fresh, "get", "kept"); err != nil || out != "45\n" {
		t.Errorf("redis-cli with the new URL: %v\n%s", err, out)
	}
	if out, err := h.run(cliRow{args: []string{"redis:credentials", "-a", "compat"}}); err != nil || !hasLine(out, fresh) {
		t.Errorf("heroku redis:credentials after the reset: %v\n%s", err, out)
	}
}
