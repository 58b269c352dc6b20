package engine_test

import (
	"context"
	"testing"

	"hako/engine"
)

// rotatingProvider is a fakeProvider whose databases get new passwords.
type rotatingProvider struct {
	fakeProvider
	n int
}

func (p *rotatingProvider) NewCredentials(ctx context.Context, res map[string]string) (string, map[string]string, error) {
	p.n++
	return "postgres://u:rotated" + string(rune('0'+p.n)) + "@127.0.0.1:5432/" + res["db"], nil, nil
}

func (p *rotatingProvider) SetCredentials(ctx context.Context, from map[string]string, url string, to map[string]string) error {
	return nil
}

// TestRotateCredentials: the new URL reaches every attachment, one
// release per app; without --confirm naming the app, or through an app
// the database is not attached to, nothing changes.
func TestRotateCredentials(t *testing.T) {
	e, _, _, _ := newEngine(t)
	p := &rotatingProvider{fakeProvider: fakeProvider{live: map[string]bool{}}}
	e.AddonProviders = map[string]engine.AddonProvider{"heroku-postgresql": p}
	ctx := context.Background()
	for _, name := range []string{"owner", "other", "third"} {
		if _, err := e.CreateApp(name, "u"); err != nil {
			t.Fatal(err)
		}
	}
	db, err := e.CreateAddon(ctx, engine.AddonRequest{App: "owner", Service: "heroku-postgresql", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []engine.AttachRequest{{App: "owner", As: "SECOND"}, {App: "other", As: "SHARED"}} {
		req.Addon, req.User = db.ID, "u"
		if _, err := e.AttachAddon(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ app, which, confirm string }{
		{"other", "SHARED", ""},
		{"other", "SHARED", "owner"},
		{"third", db.Name, "third"},
	} {
		if _, err := e.RotateCredentials(ctx, c.app, c.which, c.confirm, "u", nil); err == nil || p.n != 0 {
			t.Errorf("RotateCredentials(%+v) = %v after %d rotations, want a refusal and none", c, err, p.n)
		}
	}
	rot, err := e.RotateCredentials(ctx, "other", "SHARED_URL", "other", "u", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"owner": "Update DATABASE, SECOND by heroku-postgresql", "other": "Update SHARED by heroku-postgresql"}
	if len(rot.Releases) != 2 {
		t.Fatalf("releases = %+v", rot.Releases)
	}
	for _, rel := range rot.Releases {
		if rel.Description != want[rel.App] {
			t.Errorf("%s's release %q, want %q", rel.App, rel.Description, want[rel.App])
		}
	}
	url := "postgres://u:rotated1@127.0.0.1:5432/" + db.Name
	for app, vars := range map[string][]string{"owner": {"DATABASE_URL", "SECOND_URL"}, "other": {"SHARED_URL"}} {
		cfg := configOf(t, e, app)
		for _, v := range vars {
			if cfg[v] != url {
				t.Errorf("%s's %s = %q, want %q", app, v, cfg[v], url)
			}
		}
	}
}
