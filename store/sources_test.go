package store

import (
	"path/filepath"
	"testing"
	"time"

	"hako/engine"
)

// Sources are kept by secret across the store's closing, changed in
// place and forgotten on demand; one without a secret is refused.
func TestSourcesKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &engine.Source{ID: "src-a", Secret: "sec-a", User: "me", Size: -1, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	b := &engine.Source{ID: "src-b", Secret: "sec-b", User: "me", Size: -1, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, src := range []*engine.Source{a, b} {
		if err := s.PutSource(src); err != nil {
			t.Fatal(err)
		}
	}
	a.Size = 1234
	if err := s.PutSource(a); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSource("sec-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSource(&engine.Source{ID: "src-c"}); code(err) != engine.EINVALID {
		t.Errorf("a source without a secret: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Sources()
	if err != nil || len(got) != 1 {
		t.Fatalf("Sources = %v, %v; want src-a alone", got, err)
	}
	if g := got[0]; g.ID != "src-a" || g.Size != 1234 || g.User != "me" || !g.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("src-a after a reopen: %+v", g)
	}
}
