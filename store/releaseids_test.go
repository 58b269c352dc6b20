package store

import (
	"path/filepath"
	"regexp"
	"testing"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestReleaseIDs checks that every release gets a UUID: new ones as they
// are recorded, and those of a store written before releases had ids when
// it is opened, without changing anything else of them.
func TestReleaseIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	for i := 0; i < 2; i++ {
		if _, err := s.CreateRelease(&engine.Release{App: "web", Description: "Deploy", Status: engine.ReleaseSucceeded, Config: map[string]string{"A": "1"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	rels, err := s.Releases("web")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rels {
		if !uuidRe.MatchString(r.ID) || seen[r.ID] {
			t.Fatalf("v%d has id %q: want a UUID of its own", r.Version, r.ID)
		}
		seen[r.ID] = true
	}
	// Make the store look like one written before releases had ids.
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReleases).Bucket([]byte("web"))
		for _, r := range rels {
			r.ID = ""
			if err := put(b, versionKey(r.Version), r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopen := func() []*engine.Release {
		t.Helper()
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got, err := s.Releases("web")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := reopen()
	if len(first) != len(rels) {
		t.Fatalf("%d releases after the migration, want %d", len(first), len(rels))
	}
	ids := map[string]bool{}
	for i, r := range first {
		if !uuidRe.MatchString(r.ID) || ids[r.ID] {
			t.Errorf("migrated v%d has id %q: want a UUID of its own", r.Version, r.ID)
		}
		ids[r.ID] = true
		want := *rels[i]
		want.ID = r.ID
		if r.Version != want.Version || r.Description != want.Description || r.Status != want.Status || r.Config["A"] != want.Config["A"] || !r.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("migration changed v%d: %+v, want %+v", r.Version, *r, want)
		}
	}
	// A second open keeps the ids it gave.
	for i, r := range reopen() {
		if r.ID != first[i].ID {
			t.Errorf("v%d's id changed from %s to %s on a second open", r.Version, first[i].ID, r.ID)
		}
	}
}
