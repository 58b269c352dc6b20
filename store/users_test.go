package store

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// TestMigrateUsersKeepsOldKeysAndApps opens a store of the time before
// users (keys and apps with no owner, no users bucket): its keys become
// the administrator's, its apps the administrator's, and nothing is lost.
func TestMigrateUsersKeepsOldKeysAndApps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddKey(&engine.Key{ID: "k1", Fingerprint: "SHA256:old", Comment: "laptop"}); err != nil {
		t.Fatal(err)
	}
	mustCreateApp(t, s, "old-app", engine.ReleaseSucceeded)
	s.Close()
	// What an older hako left: no users at all.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketUsers) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin, err := s.User(engine.AdminEmail)
	if err != nil || !admin.Admin {
		t.Fatalf("administrator after migration = %+v, %v", admin, err)
	}
	k, err := s.KeyByFingerprint("SHA256:old")
	if err != nil || k.Email != engine.AdminEmail || k.Comment != "laptop" {
		t.Errorf("old key = %+v, %v; want the administrator's, comment kept", k, err)
	}
	a, err := s.App("old-app")
	if err != nil || a.Owner != engine.AdminEmail || a.CurrentRelease != 1 {
		t.Errorf("old app = %+v, %v; want owned by the administrator, release kept", a, err)
	}
}

func TestDeleteUser(t *testing.T) {
	setup := func(t *testing.T) *Store {
		s := openTest(t)
		for _, email := range []string{"a@example.test", "b@example.test"} {
			if err := s.CreateUser(&engine.User{ID: email, Email: email}, []*engine.Key{{ID: "k-" + email, Fingerprint: "SHA256:" + email, Email: email}}); err != nil {
				t.Fatal(err)
			}
			if err := s.AddToken(&engine.Token{ID: "t-" + email, User: email, Hash: "h-" + email}); err != nil {
				t.Fatal(err)
			}
		}
		app := &engine.App{Name: "of-a", Owner: "a@example.test", Collaborators: []string{"b@example.test"}}
		if err := s.CreateApp(app, nil); err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("OK", func(t *testing.T) {
		s := setup(t)
		if err := s.DeleteUser("b@example.test"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.User("b@example.test"); code(err) != engine.ENOTFOUND {
			t.Errorf("user after delete: %v", err)
		}
		if _, err := s.KeyByFingerprint("SHA256:b@example.test"); code(err) != engine.ENOTFOUND {
			t.Errorf("key after delete: %v", err)
		}
		if _, err := s.TokenByHash("h-b@example.test"); code(err) != engine.ENOTFOUND {
			t.Errorf("token after delete: %v", err)
		}
		if a, _ := s.App("of-a"); len(a.Collaborators) != 0 {
			t.Errorf("collaborators after delete = %v", a.Collaborators)
		}
		if _, err := s.TokenByHash("h-a@example.test"); err != nil {
			t.Errorf("another user's token went too: %v", err)
		}
	})
	t.Run("ErrConflictOwnsApps", func(t *testing.T) {
		s := setup(t)
		if err := s.DeleteUser("a@example.test"); code(err) != engine.ECONFLICT {
			t.Fatalf("delete owner = %v, want conflict", err)
		}
		if _, err := s.KeyByFingerprint("SHA256:a@example.test"); err != nil {
			t.Errorf("a refused delete removed the key: %v", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		s := setup(t)
		if err := s.DeleteUser("c@example.test"); code(err) != engine.ENOTFOUND {
			t.Fatalf("delete missing = %v", err)
		}
	})
}

func TestCreateUserWithTakenKeyMakesNothing(t *testing.T) {
	s := openTest(t)
	if err := s.AddKey(&engine.Key{ID: "k", Fingerprint: "SHA256:x", Email: engine.AdminEmail}); err != nil {
		t.Fatal(err)
	}
	err := s.CreateUser(&engine.User{Email: "a@example.test"}, []*engine.Key{{ID: "k2", Fingerprint: "SHA256:x"}})
	if code(err) != engine.ECONFLICT {
		t.Fatalf("CreateUser with a taken key = %v", err)
	}
	if _, err := s.User("a@example.test"); code(err) != engine.ENOTFOUND {
		t.Errorf("user made anyway: %v", err)
	}
}

func TestTokensAreTheirUsers(t *testing.T) {
	s := openTest(t)
	for _, email := range []string{"a@example.test", "b@example.test"} {
		if err := s.CreateUser(&engine.User{Email: email}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddToken(&engine.Token{ID: "t1", User: "a@example.test", Hash: "h1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteToken("b@example.test", "t1"); code(err) != engine.ENOTFOUND {
		t.Errorf("b revoked a's token: %v", err)
	}
	if ts, _ := s.Tokens("a@example.test"); len(ts) != 1 {
		t.Errorf("a's tokens = %d", len(ts))
	}
	if err := s.DeleteToken("a@example.test", "t1"); err != nil {
		t.Error(err)
	}
	if err := s.AddToken(&engine.Token{ID: "t2", User: "ghost@example.test", Hash: "h2"}); code(err) != engine.ENOTFOUND {
		t.Errorf("token of a missing user = %v", err)
	}
}
