package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"hako/engine"
)

// newBuild returns a pending build of the test app name (see
// mustCreateApp), begun i seconds after t0.
func newBuild(name string, i int) *engine.Build {
	at := t0.Add(time.Duration(i) * time.Second)
	return &engine.Build{ID: fmt.Sprintf("%s-b%d", name, i), AppID: "id-" + name, App: name, Secret: fmt.Sprintf("secret-%s-%d", name, i),
		User: "me", Version: "abc", Status: engine.BuildPending, CreatedAt: at, UpdatedAt: at}
}

// Builds are kept per app in the order they began, found by their
// secret, updated in place, and survive the store's closing.
func TestBuildsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateApp(t, s, "a", engine.ReleaseSucceeded)
	mustCreateApp(t, s, "b", engine.ReleaseSucceeded)
	for i := range 3 {
		if _, err := s.AddBuild(newBuild("a", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddBuild(newBuild("b", 0)); err != nil {
		t.Fatal(err)
	}
	done := newBuild("a", 1)
	done.Status, done.ReleaseID, done.SlugID = engine.BuildSucceeded, "rel-1", "slug-1"
	if err := s.UpdateBuild(done); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Builds("id-a")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range got {
		ids = append(ids, b.ID+":"+b.Status)
	}
	if want := "[a-b0:pending a-b1:succeeded a-b2:pending]"; fmt.Sprint(ids) != want {
		t.Errorf("builds of a = %v, want %s", ids, want)
	}
	b, err := s.BuildBySecret("secret-a-1")
	if err != nil || b.ID != "a-b1" || b.ReleaseID != "rel-1" || b.SlugID != "slug-1" || !b.CreatedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("BuildBySecret = %+v, %v", b, err)
	}
	pending, err := s.PendingBuilds()
	if err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, b := range pending {
		ids = append(ids, b.ID)
	}
	if want := "[a-b0 a-b2 b-b0]"; fmt.Sprint(ids) != want {
		t.Errorf("pending = %v, want %s", ids, want)
	}
}

// Bad calls change nothing: a build of a missing app, of an app whose id
// is not the build's (a name taken again), an update of a build not
// kept, a secret nobody holds.
func TestBuildsRefused(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "a", engine.ReleaseSucceeded)
	cases := []struct {
		name string
		call func() error
	}{
		{"AddMissingApp", func() error { _, err := s.AddBuild(newBuild("nope", 0)); return err }},
		{"AddOtherAppID", func() error {
			b := newBuild("a", 0)
			b.AppID = "id-someone-else"
			_, err := s.AddBuild(b)
			return err
		}},
		{"UpdateUnknown", func() error { return s.UpdateBuild(newBuild("a", 9)) }},
		{"UpdateWrongID", func() error {
			if _, err := s.AddBuild(newBuild("a", 1)); err != nil {
				return err
			}
			b := newBuild("a", 1)
			b.ID = "a-forged"
			return s.UpdateBuild(b)
		}},
		{"SecretUnknown", func() error { _, err := s.BuildBySecret("secret-nobody"); return err }},
		{"SecretEmpty", func() error { _, err := s.BuildBySecret(""); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); code(err) != engine.ENOTFOUND {
				t.Errorf("got %v, want ENOTFOUND", err)
			}
		})
	}
	got, err := s.Builds("id-a")
	if err != nil || len(got) != 1 || got[0].ID != "a-b1" || got[0].Status != engine.BuildPending {
		t.Errorf("builds of a = %v, %v; want a-b1 pending only", got, err)
	}
}

// Past engine.KeptBuilds the oldest finished builds go (a pending one
// stays while finished ones can go), their secrets with them; the other
// apps' builds stay.
func TestBuildsBounded(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "a", engine.ReleaseSucceeded)
	mustCreateApp(t, s, "b", engine.ReleaseSucceeded)
	if _, err := s.AddBuild(newBuild("b", 0)); err != nil {
		t.Fatal(err)
	}
	var dropped []string
	for i := range engine.KeptBuilds + 5 {
		b := newBuild("a", i)
		if i != 0 {
			b.Status = engine.BuildFailed
		}
		gone, err := s.AddBuild(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gone {
			dropped = append(dropped, g.ID)
		}
	}
	if want := "[a-b1 a-b2 a-b3 a-b4 a-b5]"; fmt.Sprint(dropped) != want {
		t.Errorf("dropped %v, want %s", dropped, want)
	}
	got, err := s.Builds("id-a")
	if err != nil || len(got) != engine.KeptBuilds || got[0].ID != "a-b0" || got[1].ID != "a-b6" {
		t.Fatalf("kept %d builds (%v), want %d from a-b0, a-b6", len(got), err, engine.KeptBuilds)
	}
	if _, err := s.BuildBySecret("secret-a-3"); code(err) != engine.ENOTFOUND {
		t.Errorf("a dropped build's secret: %v", err)
	}
	if b, err := s.BuildBySecret("secret-b-0"); err != nil || b.ID != "b-b0" {
		t.Errorf("b's build: %v, %v", b, err)
	}
}

// Destroying an app forgets its builds and their secrets; a new app of
// the same name starts with none.
func TestBuildsGoWithApp(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "a", engine.ReleaseSucceeded)
	if _, err := s.AddBuild(newBuild("a", 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteApp("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BuildBySecret("secret-a-0"); code(err) != engine.ENOTFOUND {
		t.Errorf("secret of a destroyed app's build: %v", err)
	}
	if got, err := s.Builds("id-a"); err != nil || len(got) != 0 {
		t.Errorf("builds of a destroyed app: %v, %v", got, err)
	}
	if got, err := s.PendingBuilds(); err != nil || len(got) != 0 {
		t.Errorf("pending builds after the app went: %v, %v", got, err)
	}
}
