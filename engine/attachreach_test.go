package engine_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"hako/engine"
	"hako/store"
)

// reachSupervisor records, as each dyno starts, the add-on ports its app
// may reach, as the dyno supervisor asks them (see SetAddonReach).
type reachSupervisor struct {
	fakeSupervisor
	rmu   sync.Mutex
	reach func(string) []int
	seen  map[int][]int // release version of other's web.1 → the ports it reached
}

func (s *reachSupervisor) SetAddonReach(f func(string) []int) { s.reach = f }

func (s *reachSupervisor) Start(spec engine.DynoSpec) (engine.Dyno, error) {
	s.rmu.Lock()
	if spec.App == "other" {
		s.seen[spec.Release] = s.reach(spec.App)
	}
	s.rmu.Unlock()
	return s.fakeSupervisor.Start(spec)
}

// portProvider is a fakeProvider whose resources name a server port.
type portProvider struct{ fakeProvider }

func (p *portProvider) Provision(ctx context.Context, name, plan string) (string, map[string]string, error) {
	url, res, err := p.fakeProvider.Provision(ctx, name, plan)
	res["port"] = "6543"
	return url, res, err
}

// TestDetachTakesReach: the dynos that a detach's release starts reach
// the add-on no longer, nor do those of any later release; those of the
// attach's release do.
func TestDetachTakesReach(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sup := &reachSupervisor{seen: map[int][]int{}}
	e := engine.New(engine.Parts{Store: st, Builder: &fakeBuilder{}, Supervisor: sup, Routes: &fakeRoutes{apps: map[string][]engine.Backend{}, domains: map[string][]string{}},
		Paths: engine.Layout{Run: filepath.Join(dir, "run"), Cache: filepath.Join(dir, "cache"), Repos: filepath.Join(dir, "repos")}})
	e.AddonProviders = map[string]engine.AddonProvider{"heroku-postgresql": &portProvider{fakeProvider{live: map[string]bool{}}}}
	ctx := context.Background()
	for _, name := range []string{"owner", "other"} {
		if _, err := e.CreateApp(name, "u"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Deploy(ctx, engine.DeployRequest{App: "other", Commit: "c0ffee", SourceDir: t.TempDir(), User: "u"}); err != nil {
		t.Fatal(err)
	}
	db, err := e.CreateAddon(ctx, engine.AddonRequest{App: "owner", Service: "heroku-postgresql", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	at, err := e.AttachAddon(ctx, engine.AttachRequest{Addon: db.Name, App: "other", As: "SHARED", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	attached, _ := e.Release("other", 0)
	if _, err := e.DetachAddon(ctx, at.ID, "u", nil); err != nil {
		t.Fatal(err)
	}
	detached, _ := e.Release("other", 0)
	sup.rmu.Lock()
	defer sup.rmu.Unlock()
	if got := sup.seen[attached.Version]; !slices.Equal(got, []int{6543}) {
		t.Errorf("a dyno of the attach's release v%d reached %v, want [6543]", attached.Version, got)
	}
	if got, ok := sup.seen[detached.Version]; !ok || len(got) != 0 {
		t.Errorf("a dyno of the detach's release v%d reached %v (started %v), want nothing", detached.Version, got, ok)
	}
}
