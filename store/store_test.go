package store

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hako/engine"
)

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	if _, err := s.CreateRelease(&engine.Release{App: "web", Status: engine.ReleaseSucceeded}, &engine.Slug{ID: "s1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFormation("web", map[string]int{"web": 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddKey(&engine.Key{ID: "k1", Fingerprint: "SHA256:aaa"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("file mode = %v, want %v", got, want)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	a, err := s.App("web")
	if err != nil {
		t.Fatalf("App: %v", err)
	}
	if a.CurrentRelease != 2 || !maps.Equal(a.Formation, map[string]int{"web": 2}) {
		t.Errorf("App = %+v", a)
	}
	rs, err := s.Releases("web")
	if err != nil || len(rs) != 2 {
		t.Errorf("Releases = %d, %v; want 2", len(rs), err)
	}
	if _, err := s.Slug("s1"); err != nil {
		t.Errorf("Slug: %v", err)
	}
	if _, err := s.KeyByFingerprint("SHA256:aaa"); err != nil {
		t.Errorf("KeyByFingerprint: %v", err)
	}
	// Versions continue from where they stopped.
	r, err := s.CreateRelease(&engine.Release{App: "web", Status: engine.ReleasePending}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 3 {
		t.Errorf("next version = %d, want 3", r.Version)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	start := time.Now()
	s2, err := Open(path)
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded, want an error")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("error = %v, want it to wrap ErrLocked", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("second Open took %v, want under 2s", elapsed)
	}
}
