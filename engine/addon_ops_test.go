package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"hako/engine"
)

// fakeProvider hands out URLs and remembers what it holds.
type fakeProvider struct {
	mu      sync.Mutex
	live    map[string]bool
	started [][]map[string]string
}

func (p *fakeProvider) Service() string    { return "heroku-postgresql" }
func (p *fakeProvider) Attachment() string { return "DATABASE" }
func (p *fakeProvider) Plans() []string    { return []string{"essential-0", "standard-0"} }
func (p *fakeProvider) Start(ctx context.Context, res []map[string]string) error {
	p.started = append(p.started, res)
	return nil
}
func (p *fakeProvider) Provision(ctx context.Context, name, plan string) (string, map[string]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live[name] = true
	return "postgres://u:p@127.0.0.1:5432/" + name, map[string]string{"db": name}, nil
}
func (p *fakeProvider) Deprovision(ctx context.Context, res map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.live, res["db"])
	return nil
}
func (p *fakeProvider) Stop() {}

func TestAddons(t *testing.T) {
	e, _, _, _ := newEngine(t)
	p := &fakeProvider{live: map[string]bool{}}
	e.AddonProviders = map[string]engine.AddonProvider{"heroku-postgresql": p}
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := e.CreateAddon(ctx, engine.AddonRequest{App: "my-app", Service: "heroku-postgresql", User: "u"})
	if err != nil || a.As != "DATABASE" || a.Plan != "essential-0" || !strings.HasPrefix(a.Name, "postgresql-") {
		t.Fatalf("CreateAddon = %+v, %v", a, err)
	}
	cfg, _ := e.Config("my-app")
	if cfg["DATABASE_URL"] != "postgres://u:p@127.0.0.1:5432/"+a.Name {
		t.Errorf("DATABASE_URL = %q", cfg["DATABASE_URL"])
	}
	if rel, _ := e.Release("my-app", 0); rel.Description != "Attach DATABASE (heroku-postgresql)" {
		t.Errorf("release = %q", rel.Description)
	}
	b, err := e.CreateAddon(ctx, engine.AddonRequest{App: "my-app", Service: "heroku-postgresql:standard-0"})
	if err != nil || !strings.HasPrefix(b.As, "HEROKU_POSTGRESQL_") {
		t.Fatalf("second add-on = %+v, %v", b, err)
	}
	for _, c := range []struct {
		req  engine.AddonRequest
		code string
	}{
		{engine.AddonRequest{App: "my-app", Service: "heroku-kafka"}, engine.EINVALID},
		{engine.AddonRequest{App: "my-app", Service: "heroku-postgresql:huge"}, engine.EINVALID},
		{engine.AddonRequest{App: "my-app", Service: "heroku-postgresql", As: "DATABASE"}, engine.ECONFLICT},
		{engine.AddonRequest{App: "my-app", Service: "heroku-postgresql", As: "bad name"}, engine.EINVALID},
		{engine.AddonRequest{App: "ghost", Service: "heroku-postgresql"}, engine.ENOTFOUND},
	} {
		if _, err := e.CreateAddon(ctx, c.req); engine.ErrorCode(err) != c.code {
			t.Errorf("CreateAddon(%+v) = %v, want %s", c.req, err, c.code)
		}
	}
	if _, err := e.DestroyAddon(ctx, "my-app", "DATABASE", "u", false, nil); err != nil {
		t.Fatal(err)
	}
	cfg, _ = e.Config("my-app")
	if _, ok := cfg["DATABASE_URL"]; ok || p.live[a.Name] {
		t.Errorf("destroyed add-on still attached or live: %v %v", cfg, p.live)
	}
	if _, err := e.DestroyAddon(ctx, "my-app", "nothing", "u", false, nil); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("destroy missing = %v", err)
	}
	if err := e.StartAddons(ctx); err != nil || len(p.started) != 1 || len(p.started[0]) != 1 {
		t.Errorf("StartAddons gave %v, %v", p.started, err)
	}
	if err := e.DestroyApp("my-app"); err != nil || len(p.live) != 0 {
		t.Errorf("DestroyApp left add-ons %v: %v", p.live, err)
	}
}
