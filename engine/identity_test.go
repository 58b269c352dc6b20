package engine_test

import (
	"context"
	"sync"
	"testing"

	"hako/engine"
)

// recordingBuilder remembers the requests it builds.
type recordingBuilder struct {
	fakeBuilder
	reqs []engine.BuildRequest
}

func (b *recordingBuilder) Build(ctx context.Context, req engine.BuildRequest) (*engine.BuildResult, error) {
	b.reqs = append(b.reqs, req)
	return b.fakeBuilder.Build(ctx, req)
}

// preparingSupervisor remembers whom each unpacked slug was given to.
type preparingSupervisor struct {
	*fakeSupervisor
	mu       sync.Mutex
	prepared map[string]int
}

func (s *preparingSupervisor) PrepareDir(dir string, uid, gid int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if uid != gid {
		panic("uid and gid differ")
	}
	s.prepared[dir] = uid
	return nil
}

// TestAppIdentity checks that every build, dyno, one-off and unpacked
// slug of an app carries the app's own uid, which no other app has.
func TestAppIdentity(t *testing.T) {
	e, _, fs, _ := newEngine(t)
	b := &recordingBuilder{}
	s := &preparingSupervisor{fakeSupervisor: fs, prepared: map[string]int{}}
	e.Builder, e.Supervisor = b, s
	ctx := context.Background()
	uids := map[string]int{}
	for _, name := range []string{"app-one", "app-two"} {
		a, err := e.CreateApp(name, "u")
		if err != nil {
			t.Fatal(err)
		}
		if !engine.ValidAppUID(a.UID) {
			t.Fatalf("%s got uid %d", name, a.UID)
		}
		uids[name] = a.UID
		if _, err := e.Deploy(ctx, engine.DeployRequest{App: name, Commit: "c0ffee", SourceDir: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Scale(ctx, name, "u", map[string]int{"worker": 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Run(ctx, engine.RunRequest{App: name, Command: "true"}); err != nil {
			t.Fatal(err)
		}
	}
	if uids["app-one"] == uids["app-two"] {
		t.Fatalf("both apps have uid %d", uids["app-one"])
	}
	for _, req := range b.reqs {
		if req.UID != uids[req.App] || req.GID != uids[req.App] {
			t.Errorf("build of %s as %d:%d, want %d", req.App, req.UID, req.GID, uids[req.App])
		}
	}
	var specs []engine.DynoSpec
	for _, d := range s.started {
		specs = append(specs, d.spec)
	}
	specs = append(specs, s.once...)
	if len(specs) < 6 {
		t.Fatalf("only %d dynos started", len(specs))
	}
	for _, sp := range specs {
		if sp.UID != uids[sp.App] || sp.GID != uids[sp.App] {
			t.Errorf("%s of %s runs as %d:%d, want %d", sp.Name, sp.App, sp.UID, sp.GID, uids[sp.App])
		}
		if got, ok := s.prepared[sp.Dir]; !ok || got != uids[sp.App] {
			t.Errorf("%s of %s runs from %s, given to %d (%v), want %d", sp.Name, sp.App, sp.Dir, got, ok, uids[sp.App])
		}
	}
}

// owningSupervisor says whom it gives unpacked slugs to.
type owningSupervisor struct{ *preparingSupervisor }

func (s owningSupervisor) DirOwner(uid, gid int) (int, int, bool) { return uid, gid, true }

// owningBuilder remembers whom each slug was unpacked for.
type owningBuilder struct {
	fakeBuilder
	mu    sync.Mutex
	owned map[string]int
}

func (b *owningBuilder) UnpackOwned(id, dest string, uid, gid int) error {
	b.mu.Lock()
	b.owned[dest] = uid
	b.mu.Unlock()
	return b.fakeBuilder.Unpack(id, dest)
}

// TestUnpackOwnedInOnePass checks that a slug is unpacked as the app's
// user's in the same pass when the supervisor says whom it gives slugs
// to and the builder can.
func TestUnpackOwnedInOnePass(t *testing.T) {
	e, _, fs, _ := newEngine(t)
	b := &owningBuilder{owned: map[string]int{}}
	s := owningSupervisor{&preparingSupervisor{fakeSupervisor: fs, prepared: map[string]int{}}}
	e.Builder, e.Supervisor = b, s
	a, err := e.CreateApp("owned", "u")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Deploy(context.Background(), engine.DeployRequest{App: a.Name, Commit: "c0ffee", SourceDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if len(fs.started) == 0 {
		t.Fatal("no dyno started")
	}
	for _, d := range fs.started {
		if got, ok := b.owned[d.spec.Dir+".tmp"]; !ok || got != a.UID {
			t.Errorf("%s runs from %s, unpacked for %d (%v), want %d", d.spec.Name, d.spec.Dir, got, ok, a.UID)
		}
	}
}
