package cmd

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Only the homes no server holds are swept: a home whose store a live
// server has locked, or one just made, stays; so do other directories.
func TestSweepEphemeral(t *testing.T) {
	tmp := t.TempDir()
	mk := func(name string, db bool, age time.Duration) string {
		home := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(home, "run"), 0o755); err != nil {
			t.Fatal(err)
		}
		if db {
			if err := os.WriteFile(filepath.Join(home, "hako.db"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(home, old, old); err != nil {
			t.Fatal(err)
		}
		return home
	}
	stale := mk("hako-ephemeral-1", true, 0)
	live := mk("hako-ephemeral-2", true, time.Hour)
	young := mk("hako-ephemeral-3", false, time.Minute)
	abandoned := mk("hako-ephemeral-4", false, time.Hour)
	other := mk("hako-other-5", true, time.Hour)
	f, err := os.OpenFile(filepath.Join(live, "hako.db"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	removed := sweepEphemeral(tmp)
	slices.Sort(removed)
	if want := []string{stale, abandoned}; !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	for _, dir := range []string{live, young, other} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
}
