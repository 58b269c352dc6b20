//go:build unix

package userfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSearchable(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // temporary directories are 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inner := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Searchable(inner, 65534, 65534); err != nil {
		t.Errorf("%s should be searchable: %v", inner, err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(inner, link); err != nil {
		t.Fatal(err)
	}
	if err := Searchable(link, 65534, 65534); err != nil {
		t.Errorf("a link to it should be too: %v", err)
	}
	if err := os.Chmod(filepath.Join(dir, "a"), 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != 65534 {
		if err := Searchable(inner, 65534, 65534); err == nil {
			t.Errorf("%s behind a 0700 directory of another user should not be searchable", inner)
		}
	}
	if err := Searchable(inner, 0, 0); err != nil {
		t.Errorf("root searches anything: %v", err)
	}
	if err := Searchable(filepath.Join(dir, "missing"), 65534, 65534); err == nil {
		t.Error("a missing directory is not searchable")
	}
}
