package engine_test

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"path/filepath"
	"testing"

	"hako/engine"
	"hako/store"
)

// pgRole is a heroku-postgresql provider whose server keeps the role's
// password itself, as PostgreSQL does: the add-on's record holds none,
// and a server start keeps it.
type pgRole struct {
	fakeProvider
	password string
	n        int
	failSet  bool
}

func (p *pgRole) NewCredentials(ctx context.Context, res map[string]string) (string, map[string]string, error) {
	p.n++
	return fmt.Sprintf("postgres://u:q%d@127.0.0.1:5432/%s", p.n, res["db"]), nil, nil
}

func (p *pgRole) SetCredentials(ctx context.Context, from map[string]string, url string, to map[string]string) error {
	if p.failSet {
		return errors.New("injected server failure")
	}
	u, err := neturl.Parse(url)
	if err != nil || u.User == nil {
		return fmt.Errorf("not a URL of the role: %q", url)
	}
	p.password, _ = u.User.Password()
	return nil
}

// TestPGRotationSurvivesFaults is TestRotationSurvivesFaults for a
// database, whose server keeps its password across starts and whose
// record holds none: an undo goes back to the password of the URL the
// apps held. A server that cannot take the new password changes
// nothing, and leaves nothing pending.
func TestPGRotationSurvivesFaults(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := &pgRole{fakeProvider: fakeProvider{live: map[string]bool{}}, password: "p"}
	var e *engine.Engine
	var fs *faultStore
	start := func() {
		fs = &faultStore{Store: st}
		e = engine.New(engine.Parts{Store: fs, Builder: &fakeBuilder{}, Supervisor: &fakeSupervisor{},
			Routes: &fakeRoutes{apps: map[string][]engine.Backend{}, domains: map[string][]string{}},
			Paths:  engine.Layout{Run: filepath.Join(dir, "run"), Cache: filepath.Join(dir, "cache"), Repos: filepath.Join(dir, "repos")}})
		e.AddonProviders = map[string]engine.AddonProvider{"heroku-postgresql": p}
		ctx := context.Background()
		if err := e.StartAddons(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.FinishRotations(ctx); err != nil {
			t.Fatal(err)
		}
	}
	start()
	ctx := context.Background()
	for _, name := range []string{"owner", "other"} {
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
	// held returns the passwords the apps' URLs carry.
	held := func() map[string]bool {
		got := map[string]bool{}
		for app, vars := range map[string][]string{"owner": {"DATABASE_URL", "SECOND_URL"}, "other": {"SHARED_URL"}} {
			cfg := configOf(t, e, app)
			for _, v := range vars {
				u, err := neturl.Parse(cfg[v])
				if err != nil || u.User == nil {
					t.Fatalf("%s's %s = %q", app, v, cfg[v])
				}
				pw, _ := u.User.Password()
				got[pw] = true
			}
		}
		return got
	}
	agree := func(when string) {
		t.Helper()
		if got := held(); len(got) != 1 || !got[p.password] {
			t.Errorf("%s: the apps hold passwords %v, the server has %q", when, got, p.password)
		}
		a, err := e.FindAddon(db.ID)
		if err != nil || a.PendingCredentials != nil {
			t.Errorf("%s: pending %+v, %v", when, a.PendingCredentials, err)
		}
	}
	rotate := func() (err error, crashed bool) {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(crash); !ok {
					panic(r)
				}
				crashed = true
			}
		}()
		_, err = e.RotateCredentials(ctx, "other", "SHARED", "other", "u", nil)
		return err, false
	}

	p.failSet = true
	if err, _ := rotate(); err == nil {
		t.Error("a rotation the server failed returned no error")
	}
	p.failSet = false
	agree("the server failed")

	fs.writes = 0
	if err, _ := rotate(); err != nil {
		t.Fatal(err)
	}
	agree("a rotation")
	writes := fs.writes
	for n := 1; n <= writes; n++ {
		for _, broken := range []bool{false, true} {
			when := fmt.Sprintf("write %d fails (all after it: %v)", n, broken)
			fs.writes, fs.failAt, fs.broken = 0, n, broken
			err, _ := rotate()
			fs.failAt, fs.broken = 0, false
			if len(held()) == 1 {
				if got := held(); !got[p.password] {
					t.Errorf("%s: the apps hold %v, the server has %q", when, got, p.password)
				}
			} else if !broken {
				t.Errorf("%s: the apps hold %v after one failed write (%v)", when, held(), err)
			}
			start()
			agree(when + ", after a start")
		}
		when := fmt.Sprintf("the server stopped before write %d", n)
		fs.writes, fs.crashAt = 0, n
		if _, crashed := rotate(); !crashed {
			t.Fatalf("%s: no stop", when)
		}
		start()
		agree(when + ", after a start")
	}
}
