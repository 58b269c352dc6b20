package redis

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"hako/engine"
)

// TestLegacyDataHandedOver starts an add-on whose server ran as nobody
// (as before add-ons had a uid of their own): its files become the
// add-on user's and its data is still there.
func TestLegacyDataHandedOver(t *testing.T) {
	needRedis(t)
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("handing data over needs root under CI")
		}
		t.Skip("not root: the servers run as hako's own user")
	}
	dir := t.TempDir()
	old := New(dir, Options{Logf: t.Logf, User: 65534, Group: 65534})
	t.Cleanup(func() { old.Stop(); os.RemoveAll(old.fallbackBase()) })
	_, rec := provision(t, old, "redis-legacy")
	if _, err := do(addr(rec), rec["password"], "SET", "kept", "yes"); err != nil {
		t.Fatal(err)
	}
	old.Stop()

	p := newProvider(t, dir)
	if err := p.Start(context.Background(), []map[string]string{rec}); err != nil {
		t.Fatal(err)
	}
	if got, err := do(addr(rec), rec["password"], "GET", "kept"); err != nil || got != "yes" {
		t.Errorf("GET after the hand-over = %q, %v", got, err)
	}
	// Written after the hand-over: the server can still write its files.
	if _, err := do(addr(rec), rec["password"], "SET", "after", "yes"); err != nil {
		t.Error(err)
	}
	n := 0
	filepath.WalkDir(rec["data"], func(path string, d fs.DirEntry, err error) error {
		var st syscall.Stat_t
		if err == nil && syscall.Lstat(path, &st) == nil {
			n++
			if st.Uid != engine.AddonUID {
				t.Errorf("%s belongs to uid %d, want %d", path, st.Uid, engine.AddonUID)
			}
		}
		return nil
	})
	if n < 2 {
		t.Errorf("only %d files in %s", n, rec["data"])
	}
}
