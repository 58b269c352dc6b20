package engine_test

import (
	"context"
	"slices"
	"testing"

	"hako/engine"
)

// attachSetup makes apps owner and other with a database on owner.
func attachSetup(t *testing.T) (*engine.Engine, *fakeProvider, *engine.Addon) {
	t.Helper()
	e, _, _, _ := newEngine(t)
	p := &fakeProvider{live: map[string]bool{}}
	e.AddonProviders = map[string]engine.AddonProvider{"heroku-postgresql": p}
	for _, name := range []string{"owner", "other"} {
		if _, err := e.CreateApp(name, "u"); err != nil {
			t.Fatal(err)
		}
	}
	db, err := e.CreateAddon(context.Background(), engine.AddonRequest{App: "owner", Service: "heroku-postgresql", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	return e, p, db
}

func configOf(t *testing.T, e *engine.Engine, app string) map[string]string {
	t.Helper()
	cfg, err := e.Config(app)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func names(list []engine.AddonAttachment) []string {
	var out []string
	for _, at := range list {
		out = append(out, at.App+"::"+at.Name)
	}
	slices.Sort(out)
	return out
}

func TestAttachAddon(t *testing.T) {
	e, _, db := attachSetup(t)
	ctx := context.Background()
	url := configOf(t, e, "owner")["DATABASE_URL"]

	at, err := e.AttachAddon(ctx, engine.AttachRequest{Addon: db.Name, App: "other", User: "u"})
	if err != nil || at.Name != "HEROKU_POSTGRESQL_AMBER" || at.App != "other" || at.Addon.ID != db.ID || at.Owned() {
		t.Fatalf("attach to other = %+v, %v", at, err)
	}
	if got := configOf(t, e, "other")["HEROKU_POSTGRESQL_AMBER_URL"]; got != url {
		t.Errorf("other's HEROKU_POSTGRESQL_AMBER_URL = %q, want %q", got, url)
	}
	if rel, _ := e.Release("other", 0); rel.Description != "Attach HEROKU_POSTGRESQL_AMBER (heroku-postgresql)" || rel.Version != 2 {
		t.Errorf("other's release = v%d %q", rel.Version, rel.Description)
	}
	// The same app again, under another name.
	second, err := e.AttachAddon(ctx, engine.AttachRequest{Addon: db.ID, App: "owner", As: "SECOND", User: "u"})
	if err != nil || second.Name != "SECOND" {
		t.Fatalf("attach to owner as SECOND = %+v, %v", second, err)
	}
	if got := configOf(t, e, "owner"); got["SECOND_URL"] != url || got["DATABASE_URL"] != url {
		t.Errorf("owner's config = %v, want DATABASE_URL and SECOND_URL both %q", got, url)
	}
	list, err := e.Attachments("owner")
	if want := []string{"owner::DATABASE", "owner::SECOND"}; err != nil || !slices.Equal(names(list), want) {
		t.Errorf("Attachments(owner) = %v, %v; want %v", names(list), err, want)
	}
	if list, _ := e.Attachments("other"); !slices.Equal(names(list), []string{"other::HEROKU_POSTGRESQL_AMBER"}) {
		t.Errorf("Attachments(other) = %v", names(list))
	}
	// addons:info SECOND on owner and the attached name on other find it.
	if a, _, err := e.AddonInfo(ctx, "other", "HEROKU_POSTGRESQL_AMBER"); err != nil || a.ID != db.ID {
		t.Errorf("AddonInfo(other, HEROKU_POSTGRESQL_AMBER) = %+v, %v", a, err)
	}

	// Refusals change nothing.
	before := configOf(t, e, "other")
	for _, c := range []struct {
		name string
		req  engine.AttachRequest
		code string
	}{
		{"unknown add-on", engine.AttachRequest{Addon: "postgresql-none-00000", App: "other"}, engine.ENOTFOUND},
		{"unknown app", engine.AttachRequest{Addon: db.Name, App: "ghost"}, engine.ENOTFOUND},
		{"bad name", engine.AttachRequest{Addon: db.Name, App: "other", As: "lower case"}, engine.EINVALID},
		{"same add-on, same name", engine.AttachRequest{Addon: db.Name, App: "other", As: "HEROKU_POSTGRESQL_AMBER", Confirm: "other"}, engine.ECONFLICT},
		{"the name of the app's own add-on", engine.AttachRequest{Addon: db.Name, App: "owner", As: "DATABASE", Confirm: "owner"}, engine.ECONFLICT},
	} {
		if _, err := e.AttachAddon(ctx, c.req); engine.ErrorCode(err) != c.code {
			t.Errorf("%s: AttachAddon(%+v) = %v, want %s", c.name, c.req, err, c.code)
		}
	}
	if got := configOf(t, e, "other"); len(got) != len(before) {
		t.Errorf("refused attachments changed other's config: %v, was %v", got, before)
	}

	// Another add-on under a taken name asks for confirmation, then replaces it.
	db2, err := e.CreateAddon(ctx, engine.AddonRequest{App: "other", Service: "heroku-postgresql", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	req := engine.AttachRequest{Addon: db2.Name, App: "other", As: "HEROKU_POSTGRESQL_AMBER", User: "u"}
	if _, err := e.AttachAddon(ctx, req); engine.ErrorCode(err) != engine.ECONFIRM {
		t.Fatalf("attach over a taken name = %v, want %s", err, engine.ECONFIRM)
	}
	req.Confirm = "other"
	if _, err := e.AttachAddon(ctx, req); err != nil {
		t.Fatal(err)
	}
	cfg := configOf(t, e, "other")
	if cfg["HEROKU_POSTGRESQL_AMBER_URL"] != cfg["DATABASE_URL"] || cfg["HEROKU_POSTGRESQL_AMBER_URL"] == url {
		t.Errorf("replaced attachment's URL = %q, want other's own database %q", cfg["HEROKU_POSTGRESQL_AMBER_URL"], cfg["DATABASE_URL"])
	}
	if list, _ := e.Attachments("other"); len(list) != 2 {
		t.Errorf("other's attachments after the replacement = %v, want its database twice", names(list))
	}
	if o, _ := e.App("owner"); len(o.Addons[0].Attachments) != 1 || o.Addons[0].Attachments[0].Name != "SECOND" {
		t.Errorf("owner's add-on still records the replaced attachment: %+v", o.Addons[0].Attachments)
	}
}

func TestDetachAddon(t *testing.T) {
	e, p, db := attachSetup(t)
	ctx := context.Background()
	at, err := e.AttachAddon(ctx, engine.AttachRequest{Addon: db.Name, App: "other", As: "SHARED", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	// The add-on's own attachment stays: detaching it would leave an
	// add-on that no app owns.
	own, err := e.Attachment("owner", "DATABASE")
	if err != nil || !own.Owned() {
		t.Fatalf("own attachment = %+v, %v", own, err)
	}
	if _, err := e.DetachAddon(ctx, own.ID, "u", nil); engine.ErrorCode(err) != engine.ECONFLICT {
		t.Errorf("detach the own attachment = %v, want %s", err, engine.ECONFLICT)
	}
	if _, ok := configOf(t, e, "owner")["DATABASE_URL"]; !ok || !p.live[db.Name] {
		t.Errorf("a refused detach removed DATABASE_URL or the database")
	}
	if _, err := e.DetachAddon(ctx, "no-such-id", "u", nil); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("detach unknown = %v", err)
	}
	if _, err := e.DetachAddon(ctx, at.ID, "u", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := configOf(t, e, "other")["SHARED_URL"]; ok {
		t.Error("SHARED_URL still set after detach")
	}
	if rel, _ := e.Release("other", 0); rel.Description != "Detach SHARED (heroku-postgresql)" || rel.Version != 3 {
		t.Errorf("detach release = v%d %q", rel.Version, rel.Description)
	}
	if list, _ := e.Attachments("other"); len(list) != 0 || !p.live[db.Name] {
		t.Errorf("after detach: other's attachments %v, database live %v", names(list), p.live[db.Name])
	}
	if _, err := e.DetachAddon(ctx, at.ID, "u", nil); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("detach twice = %v", err)
	}
}

func TestDestroyAttachedAddon(t *testing.T) {
	e, p, db := attachSetup(t)
	ctx := context.Background()
	if _, err := e.AttachAddon(ctx, engine.AttachRequest{Addon: db.Name, App: "other", As: "SHARED", User: "u"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AttachAddon(ctx, engine.AttachRequest{Addon: db.Name, App: "owner", As: "SECOND", User: "u"}); err != nil {
		t.Fatal(err)
	}
	// Attached elsewhere: only with force.
	if _, err := e.DestroyAddon(ctx, "owner", db.Name, "u", false, nil); engine.ErrorCode(err) != engine.ECONFLICT {
		t.Fatalf("destroy without force = %v, want %s", err, engine.ECONFLICT)
	}
	if _, ok := configOf(t, e, "other")["SHARED_URL"]; !ok || !p.live[db.Name] {
		t.Fatal("a refused destroy detached or removed the database")
	}
	// Another app's attachment is not its add-on to destroy.
	if _, err := e.DestroyAddon(ctx, "other", "SHARED", "u", true, nil); engine.ErrorCode(err) != engine.EINVALID {
		t.Errorf("destroy through another app's attachment = %v, want %s", err, engine.EINVALID)
	}
	if _, err := e.DestroyAddon(ctx, "owner", db.Name, "u", true, nil); err != nil {
		t.Fatal(err)
	}
	for app, vars := range map[string][]string{"owner": {"DATABASE_URL", "SECOND_URL"}, "other": {"SHARED_URL"}} {
		cfg := configOf(t, e, app)
		for _, v := range vars {
			if _, ok := cfg[v]; ok {
				t.Errorf("%s still has %s after the add-on was destroyed", app, v)
			}
		}
	}
	if rel, _ := e.Release("other", 0); rel.Description != "Detach SHARED (heroku-postgresql)" {
		t.Errorf("other's last release = %q", rel.Description)
	}
	if p.live[db.Name] {
		t.Error("database still provisioned")
	}
	for _, app := range []string{"owner", "other"} {
		if list, _ := e.Attachments(app); len(list) != 0 {
			t.Errorf("%s keeps attachments %v", app, names(list))
		}
	}
}

func TestDestroyAppWithAttachments(t *testing.T) {
	t.Run("OwnerDestroyed", func(t *testing.T) {
		e, p, db := attachSetup(t)
		ctx := context.Background()
		if _, err := e.AttachAddon(ctx, engine.AttachRequest{Addon: db.Name, App: "other", As: "SHARED", User: "u"}); err != nil {
			t.Fatal(err)
		}
		if err := e.DestroyApp("owner"); err != nil {
			t.Fatal(err)
		}
		if _, ok := configOf(t, e, "other")["SHARED_URL"]; ok || p.live[db.Name] {
			t.Errorf("other keeps SHARED_URL (%v) or the database lives on (%v)", ok, p.live[db.Name])
		}
		if list, _ := e.Attachments("other"); len(list) != 0 {
			t.Errorf("other keeps attachments %v", names(list))
		}
	})
	t.Run("AttachedAppDestroyed", func(t *testing.T) {
		e, p, db := attachSetup(t)
		ctx := context.Background()
		if _, err := e.AttachAddon(ctx, engine.AttachRequest{Addon: db.Name, App: "other", As: "SHARED", User: "u"}); err != nil {
			t.Fatal(err)
		}
		if err := e.DestroyApp("other"); err != nil {
			t.Fatal(err)
		}
		o, err := e.App("owner")
		if err != nil || len(o.Addons) != 1 || len(o.Addons[0].Attachments) != 0 || !p.live[db.Name] {
			t.Errorf("owner after other went = %+v, %v (live %v): want its database, attached to it alone", o, err, p.live[db.Name])
		}
		// A new app of the old name does not inherit the attachment.
		if _, err := e.CreateApp("other", "u"); err != nil {
			t.Fatal(err)
		}
		if list, _ := e.Attachments("other"); len(list) != 0 {
			t.Errorf("a new app of the name has attachments %v", names(list))
		}
	})
}

func TestRenameKeepsAttachments(t *testing.T) {
	e, _, db := attachSetup(t)
	ctx := context.Background()
	if _, err := e.AttachAddon(ctx, engine.AttachRequest{Addon: db.Name, App: "other", As: "SHARED", User: "u"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RenameApp(ctx, "other", "other-two", "u"); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.Attachments("other-two"); !slices.Equal(names(list), []string{"other-two::SHARED"}) {
		t.Errorf("attachments after the rename = %v", names(list))
	}
	if _, err := e.CreateApp("other", "u"); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.Attachments("other"); len(list) != 0 {
		t.Errorf("a new app of the old name has attachments %v", names(list))
	}
}
