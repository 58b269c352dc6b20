package store

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// oldAddonRecord is an app record as hako wrote it when each add-on had
// exactly one attachment: no "attachments" anywhere.
const oldAddonRecord = `{"id":"id-old-app","name":"old-app","stack":"heroku-24","current_release":1,` +
	`"addons":[{"id":"0f4c1b4e-1111-4a6e-9c7e-5d2b9a6f0001","name":"postgresql-misty-04211","app":"old-app",` +
	`"service":"heroku-postgresql","plan":"essential-0","as":"DATABASE","state":"provisioned",` +
	`"created_at":"2026-11-01T10:00:00Z","resource":{"database":"postgresql_misty_04211","port":"5433"}}]}`

// TestOldAddonRecordLoadsUnchanged opens a store written before add-ons
// could have several attachments: each add-on keeps its one attachment,
// named as before with the add-on's id, and writing the app back leaves
// its add-ons' record as it was.
func TestOldAddonRecordLoadsUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateApp(t, s, "old-app", engine.ReleaseSucceeded)
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketApps).Put([]byte("old-app"), []byte(oldAddonRecord)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.App("old-app")
	if err != nil || len(a.Addons) != 1 {
		t.Fatalf("old app = %+v, %v", a, err)
	}
	ad := a.Addons[0]
	want := engine.Attachment{ID: "0f4c1b4e-1111-4a6e-9c7e-5d2b9a6f0001", App: "old-app", Name: "DATABASE", Created: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}
	if all := ad.AllAttachments(); len(all) != 1 || all[0] != want || ad.ConfigVar() != "DATABASE_URL" || ad.Resource["port"] != "5433" {
		t.Errorf("attachments of the old add-on = %+v (config var %s, resource %v), want only %+v", all, ad.ConfigVar(), ad.Resource, want)
	}
	// Writing the app back (any change) keeps the add-on's record as it was.
	if _, err := s.UpdateApp("old-app", func(a *engine.App) error { a.Maintenance = true; return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		rec := tx.Bucket(bucketApps).Get([]byte("old-app"))
		const addons = `"addons":[{"id":"0f4c1b4e-1111-4a6e-9c7e-5d2b9a6f0001","name":"postgresql-misty-04211","app":"old-app","service":"heroku-postgresql","plan":"essential-0","as":"DATABASE","state":"provisioned","created_at":"2026-11-01T10:00:00Z","resource":{"database":"postgresql_misty_04211","port":"5433"}}]`
		if !bytes.Contains(rec, []byte(addons)) {
			t.Errorf("record written back = %s\nwant its add-ons unchanged: %s", rec, addons)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRenameMovesAttachments renames an app that other apps' add-ons
// (and its own, under a second name) are attached to: every attachment
// names it by its new name, and none the old.
func TestRenameMovesAttachments(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "owner", engine.ReleaseSucceeded)
	mustCreateApp(t, s, "user-app", engine.ReleaseSucceeded)
	_, err := s.UpdateApp("owner", func(a *engine.App) error {
		a.Addons = []engine.Addon{{ID: "ad1", Name: "postgresql-a-1", App: "owner", As: "DATABASE",
			Attachments: []engine.Attachment{{ID: "at1", App: "user-app", Name: "SHARED"}, {ID: "at2", App: "owner", Name: "SECOND"}}}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateApp("user-app", func(a *engine.App) error {
		a.Addons = []engine.Addon{{ID: "ad2", Name: "redis-b-2", App: "user-app", As: "REDIS",
			Attachments: []engine.Attachment{{ID: "at3", App: "owner", Name: "CACHE"}}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RenameApp("user-app", "renamed"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RenameApp("owner", "owner-two"); err != nil {
		t.Fatal(err)
	}
	o, err := s.App("owner-two")
	if err != nil {
		t.Fatal(err)
	}
	got := o.Addons[0].AllAttachments()
	if len(got) != 3 || got[0].App != "owner-two" || got[1].App != "renamed" || got[2].App != "owner-two" {
		t.Errorf("owner's add-on attachments after the renames = %+v", got)
	}
	r, err := s.App("renamed")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Addons[0].AllAttachments(); len(got) != 2 || got[0].App != "renamed" || got[1].App != "owner-two" {
		t.Errorf("renamed app's add-on attachments = %+v", got)
	}
}
