package store

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// uidOf returns the stored uid of app.
func uidOf(t *testing.T, s *Store, app string) int {
	t.Helper()
	a, err := s.App(app)
	if err != nil {
		t.Fatal(err)
	}
	return a.UID
}

// TestAppUIDs checks that each app gets a uid of its own, kept across a
// reopen and by every update, and that a deleted app's uid is not handed
// out again at once.
func TestAppUIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"one", "two", "three"} {
		if err := s.CreateApp(&engine.App{Name: name, UID: 7}, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"one": engine.FirstAppUID, "two": engine.FirstAppUID + 1, "three": engine.FirstAppUID + 2}
	for name, uid := range want {
		if got := uidOf(t, s, name); got != uid {
			t.Errorf("uid of %s = %d, want %d", name, got, uid)
		}
	}
	if _, err := s.UpdateApp("two", func(a *engine.App) error { a.UID = want["one"]; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := uidOf(t, s, "two"); got != want["two"] {
		t.Errorf("UpdateApp changed the uid to %d", got)
	}
	if _, err := s.DeleteApp("three"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, uid := range map[string]int{"one": want["one"], "two": want["two"]} {
		if got := uidOf(t, s, name); got != uid {
			t.Errorf("after a reopen, uid of %s = %d, want %d", name, got, uid)
		}
	}
	if err := s.CreateApp(&engine.App{Name: "four"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := uidOf(t, s, "four"); got != engine.FirstAppUID+3 {
		t.Errorf("uid of four = %d, want %d (three's is not reused at once)", got, engine.FirstAppUID+3)
	}
}

// TestUIDsWrapAround checks that allocation goes back to the start of the
// range once it reaches the end, skipping the uids apps still have.
func TestUIDsWrapAround(t *testing.T) {
	s := openTest(t)
	for _, name := range []string{"first", "second"} {
		if err := s.CreateApp(&engine.App{Name: name}, nil); err != nil {
			t.Fatal(err)
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], engine.LastAppUID)
		return tx.Bucket(bucketMeta).Put(keyNextUID, b[:])
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		want int
	}{{"last", engine.LastAppUID}, {"wrapped", engine.FirstAppUID + 2}} {
		if err := s.CreateApp(&engine.App{Name: tt.name}, nil); err != nil {
			t.Fatal(err)
		}
		if got := uidOf(t, s, tt.name); got != tt.want {
			t.Errorf("uid of %s = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestLegacyAppsGetUIDs opens a store written before apps had uids (and
// one with a damaged record: two apps sharing a uid): every app gets a
// valid uid of its own, kept from then on.
func TestLegacyAppsGetUIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		apps, err := tx.CreateBucket(bucketApps)
		if err != nil {
			return err
		}
		for _, a := range []engine.App{
			{Name: "alpha"}, {Name: "beta"}, {Name: "gamma", UID: engine.FirstAppUID + 5}, {Name: "zeta", UID: engine.FirstAppUID + 5}, {Name: "nobody", UID: 65534},
		} {
			if err := put(apps, []byte(a.Name), &a); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	seen := map[int]string{}
	for _, name := range []string{"alpha", "beta", "gamma", "nobody", "zeta"} {
		uid := uidOf(t, s, name)
		if !engine.ValidAppUID(uid) {
			t.Errorf("%s has uid %d, out of the apps' range", name, uid)
		}
		if other, dup := seen[uid]; dup {
			t.Errorf("%s and %s share uid %d", name, other, uid)
		}
		seen[uid], got[name] = name, uid
	}
	if got["gamma"] != engine.FirstAppUID+5 {
		t.Errorf("gamma's valid uid changed to %d", got["gamma"])
	}
	if err := s.CreateApp(&engine.App{Name: "delta"}, nil); err != nil {
		t.Fatal(err)
	}
	if uid := uidOf(t, s, "delta"); seen[uid] != "" {
		t.Errorf("a new app got %s's uid %d", seen[uid], uid)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, uid := range got {
		if now := uidOf(t, s, name); now != uid {
			t.Errorf("after a reopen, uid of %s = %d, want %d", name, now, uid)
		}
	}
}
