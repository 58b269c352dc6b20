package engine_test

import (
	"context"
	"fmt"
	"testing"

	"hako/engine"
)

// redisFake is a heroku-redis provider that keeps the password in the
// add-on's record, as the real one does.
type redisFake struct {
	fakeProvider
	n int
}

func (p *redisFake) Service() string    { return "heroku-redis" }
func (p *redisFake) Attachment() string { return "REDIS" }
func (p *redisFake) Plans() []string    { return []string{"mini"} }
func (p *redisFake) Provision(ctx context.Context, name, plan string) (string, map[string]string, error) {
	return "redis://default:p0@127.0.0.1:6379", map[string]string{"name": name, "password": "p0"}, nil
}

func (p *redisFake) NewCredentials(ctx context.Context, res map[string]string) (string, map[string]string, error) {
	p.n++
	pw := fmt.Sprintf("p%d", p.n)
	return "redis://default:" + pw + "@127.0.0.1:6379", map[string]string{"name": res["name"], "password": pw}, nil
}

func (p *redisFake) SetCredentials(ctx context.Context, from map[string]string, url string, to map[string]string) error {
	return nil
}

// TestResetRedisCredentials: the add-on is named as the heroku CLI's
// redis commands name it; a bad name, another service's add-on or one
// not attached to the app named is refused and nothing changes; a reset
// gives every attachment on every app the new URL, one release per app,
// and records the new password for the provider's next start.
func TestResetRedisCredentials(t *testing.T) {
	e, _, _, _ := newEngine(t)
	rp := &redisFake{}
	pg := &rotatingProvider{fakeProvider: fakeProvider{live: map[string]bool{}}}
	e.AddonProviders = map[string]engine.AddonProvider{"heroku-redis": rp, "heroku-postgresql": pg}
	ctx := context.Background()
	for _, name := range []string{"cache", "reader", "third", "two"} {
		if _, err := e.CreateApp(name, "u"); err != nil {
			t.Fatal(err)
		}
	}
	add := func(app, service string) *engine.Addon {
		a, err := e.CreateAddon(ctx, engine.AddonRequest{App: app, Service: service, User: "u"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	rd, db := add("cache", "heroku-redis"), add("cache", "heroku-postgresql")
	add("two", "heroku-redis")
	add("two", "heroku-redis")
	for _, req := range []engine.AttachRequest{{App: "cache", As: "SESSIONS"}, {App: "reader", As: "SHARED"}} {
		req.Addon, req.User = rd.ID, "u"
		if _, err := e.AttachAddon(ctx, req); err != nil {
			t.Fatal(err)
		}
	}

	for _, c := range []struct{ app, which, code, msg string }{
		{"cache", "NOPE", engine.ENOTFOUND, "Unknown Redis add-on: NOPE. Valid options are: REDIS_URL, SESSIONS_URL"},
		{"cache", db.Name, engine.EINVALID, db.Name + " is a heroku-postgresql add-on: the redis commands act on heroku-redis add-ons only."},
		{"cache", "DATABASE_URL", engine.EINVALID, db.Name + " is a heroku-postgresql add-on: the redis commands act on heroku-redis add-ons only."},
		{"third", rd.Name, engine.ENOTFOUND, "third has no heroku-redis add-on: `hako addons:create heroku-redis -a third` adds one."},
		{"two", "", engine.EINVALID, ""},
		{"nosuch", "", engine.ENOTFOUND, ""},
	} {
		_, err := e.ResetRedisCredentials(ctx, c.app, c.which, "u", nil)
		if engine.ErrorCode(err) != c.code || (c.msg != "" && err.Error() != c.msg) {
			t.Errorf("ResetRedisCredentials(%s, %q) = %v, want %s %q", c.app, c.which, err, c.code, c.msg)
		}
	}
	if rp.n != 0 || pg.n != 0 {
		t.Fatalf("refusals rotated: redis %d, postgres %d", rp.n, pg.n)
	}

	// Through the other app, by the CLI's partial match.
	if a, url, err := e.RedisCredentials("reader", "shar"); err != nil || a.ID != rd.ID || url != "redis://default:p0@127.0.0.1:6379" {
		t.Fatalf("RedisCredentials(reader, shar) = %v, %q, %v", a, url, err)
	}
	rot, err := e.ResetRedisCredentials(ctx, "reader", "shar", "u", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cache": "Update REDIS, SESSIONS by heroku-redis", "reader": "Update SHARED by heroku-redis"}
	if len(rot.Releases) != 2 {
		t.Fatalf("releases = %+v", rot.Releases)
	}
	for _, rel := range rot.Releases {
		if rel.Description != want[rel.App] {
			t.Errorf("%s's release %q, want %q", rel.App, rel.Description, want[rel.App])
		}
	}
	url := "redis://default:p1@127.0.0.1:6379"
	for app, vars := range map[string][]string{"cache": {"REDIS_URL", "SESSIONS_URL"}, "reader": {"SHARED_URL"}} {
		cfg := configOf(t, e, app)
		for _, v := range vars {
			if cfg[v] != url {
				t.Errorf("%s's %s = %q, want %q", app, v, cfg[v], url)
			}
		}
	}
	if cfg := configOf(t, e, "cache"); cfg["DATABASE_URL"] != "postgres://u:p@127.0.0.1:5432/"+db.Name {
		t.Errorf("the database's URL changed: %q", cfg["DATABASE_URL"])
	}
	got, err := e.FindAddon(rd.ID)
	if err != nil || got.Resource["password"] != "p1" {
		t.Errorf("the add-on's record after the reset: %+v, %v", got, err)
	}
	if _, url, err := e.RedisCredentials("cache", ""); err != nil || url != "redis://default:p1@127.0.0.1:6379" {
		t.Errorf("RedisCredentials(cache) = %q, %v", url, err)
	}
}
