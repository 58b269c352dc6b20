package buildpacks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"hako/engine"
)

type tarEntry struct {
	name     string
	typ      byte
	body     string
	linkname string
	mode     int64
}

// storeSlug writes a hand-made slug into slugDir and returns its ID.
func storeSlug(t *testing.T, slugDir string, entries []tarEntry) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: mode, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	gz.Close()
	sum := sha256.Sum256(buf.Bytes())
	id := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(slugDir, id+".tgz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestUnpackRefusesEscapes(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
	}{
		{"dot-dot", []tarEntry{{name: "ok.txt", typ: tar.TypeReg, body: "ok"}, {name: "../evil", typ: tar.TypeReg, body: "evil"}}},
		{"nested dot-dot", []tarEntry{{name: "a/../../evil", typ: tar.TypeReg, body: "evil"}}},
		{"absolute", []tarEntry{{name: "/abs/evil", typ: tar.TypeReg, body: "evil"}}},
		{"write through symlink", []tarEntry{
			{name: "link", typ: tar.TypeSymlink, linkname: "../outside"},
			{name: "link/evil", typ: tar.TypeReg, body: "evil"},
		}},
		{"write through absolute symlink", []tarEntry{
			{name: "abs", typ: tar.TypeSymlink, linkname: "OUTSIDE"},
			{name: "abs/evil", typ: tar.TypeReg, body: "evil"},
		}},
		// A directory written into through a symlink, then the symlink
		// swapped for one leading out: the next entry must not land where
		// the old one led nor where the new one leads.
		{"symlink swapped after use", []tarEntry{
			{name: "in/", typ: tar.TypeDir},
			{name: "link", typ: tar.TypeSymlink, linkname: "in"},
			{name: "link/ok.txt", typ: tar.TypeReg, body: "ok"},
			{name: "link", typ: tar.TypeSymlink, linkname: "OUTSIDE"},
			{name: "link/evil", typ: tar.TypeReg, body: "evil"},
		}},
		{"symlink in a deep directory", []tarEntry{
			{name: "a/b/c/ok.txt", typ: tar.TypeReg, body: "ok"},
			{name: "a/b/c/up", typ: tar.TypeSymlink, linkname: "../../../.."},
			{name: "a/b/c/up/evil", typ: tar.TypeReg, body: "evil"},
		}},
		{"device", []tarEntry{{name: "null", typ: tar.TypeChar}}},
		{"hard link", []tarEntry{{name: "passwd", typ: tar.TypeLink, linkname: "/etc/passwd"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, slugDir, _ := newTestBuilder(t)
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			if err := os.Mkdir(outside, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range tt.entries {
				tt.entries[i].linkname = strings.ReplaceAll(tt.entries[i].linkname, "OUTSIDE", outside)
			}
			id := storeSlug(t, slugDir, tt.entries)
			dest := filepath.Join(base, "app")
			err := b.Unpack(id, dest)
			if err == nil {
				t.Fatal("Unpack accepted the slug")
			}
			t.Logf("refused: %v", err)
			if got := listDir(t, outside); len(got) > 0 {
				t.Errorf("wrote %v outside dest", got)
			}
			if got := listDir(t, base); len(got) != 1 {
				t.Errorf("base holds %v, want only the outside dir", got)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(base), "evil")); err == nil {
				t.Error("wrote evil next to base")
			}
		})
	}
}

func TestUnpackModes(t *testing.T) {
	b, slugDir, _ := newTestBuilder(t)
	id := storeSlug(t, slugDir, []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o700},
		{name: "private/", typ: tar.TypeDir, mode: 0o700},
		{name: "private/run", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o755},
		{name: "suid", typ: tar.TypeReg, body: "x", mode: 0o4755},
		{name: "implicit/dir/file.txt", typ: tar.TypeReg, body: "x", mode: 0o640},
		// Modes a umask would cut: kept exactly.
		{name: "shared.txt", typ: tar.TypeReg, body: "x", mode: 0o666},
		{name: "open-run", typ: tar.TypeReg, body: "x", mode: 0o777},
		{name: "current", typ: tar.TypeSymlink, linkname: "private/run"},
		{name: "dup.txt", typ: tar.TypeReg, body: "first"},
		{name: "dup.txt", typ: tar.TypeReg, body: "second"},
	})
	dest := filepath.Join(t.TempDir(), "nested", "app")
	if err := b.Unpack(id, dest); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{
		".":                     os.ModeDir | 0o755,
		"private":               os.ModeDir | 0o755,
		"private/run":           0o755,
		"suid":                  0o755,
		"implicit":              os.ModeDir | 0o755,
		"implicit/dir/file.txt": 0o640,
		"shared.txt":            0o666,
		"open-run":              0o777,
	} {
		fi, err := os.Stat(filepath.Join(dest, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode(), want)
		}
	}
	if link, err := os.Readlink(filepath.Join(dest, "current")); err != nil || link != "private/run" {
		t.Errorf("current -> %q, %v", link, err)
	}
	if data, _ := os.ReadFile(filepath.Join(dest, "dup.txt")); string(data) != "second" {
		t.Errorf("dup.txt = %q", data)
	}
	if err := b.Unpack(id, dest); err == nil {
		t.Error("Unpack into an existing directory succeeded")
	}
}

func TestSlugIDValidation(t *testing.T) {
	b, _, _ := newTestBuilder(t)
	dest := filepath.Join(t.TempDir(), "app")
	for _, id := range []string{"", "../../etc/passwd", strings.Repeat("A", 64), strings.Repeat("a", 63), strings.Repeat("a", 64) + "/x"} {
		if err := b.Unpack(id, dest); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("Unpack(%q) = %v, want EINVALID", id, err)
		}
		if err := b.RemoveSlug(id); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("RemoveSlug(%q) = %v, want EINVALID", id, err)
		}
	}
	missing := strings.Repeat("a", 64)
	if err := b.Unpack(missing, dest); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("Unpack of a missing slug = %v, want ENOTFOUND", err)
	}
	if err := b.RemoveSlug(missing); err != nil {
		t.Errorf("RemoveSlug of a missing slug = %v", err)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("a failed Unpack created dest")
	}
}

// TestUnpackManyFiles round-trips a tree of many files in many
// directories, small ones (written by the extraction's workers) and
// large ones (written as they are read), and finds every file with its
// contents and mode.
func TestUnpackManyFiles(t *testing.T) {
	src, slugDir := t.TempDir(), t.TempDir()
	want := map[string]string{}
	for i := range 400 {
		name := fmt.Sprintf("d%02d/sub%d/f%03d.txt", i%23, i%3, i)
		body := strings.Repeat(fmt.Sprintf("%d,", i), 1+i*7)
		if i%97 == 0 {
			body = strings.Repeat("large ", (smallFile+i)/6+1)
		}
		want[name] = body
	}
	writeFiles(t, src, want)
	if err := os.Chmod(filepath.Join(src, "d00/sub0/f000.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	id, _, err := writeSlug(src, slugDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(slugDir, id+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dest := filepath.Join(t.TempDir(), "app")
	if err := unpackInto(f, dest, sizeLimit{}); err != nil {
		t.Fatal(err)
	}
	for name, body := range want {
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil || string(got) != body {
			t.Errorf("%s: %d bytes, %v; want %d bytes", name, len(got), err, len(body))
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "d00/sub0/f000.txt")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode of d00/sub0/f000.txt: %v, %v; want 0755", fi.Mode(), err)
	}
	n := 0
	filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if n != len(want) {
		t.Errorf("%d files unpacked, want %d", n, len(want))
	}
}

// TestUnpackOwned checks that every entry of a slug unpacked for a user
// is theirs (symlinks themselves, directories made implicitly included),
// that dest is closed to others, and that modes and the refusals stay.
func TestUnpackOwned(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("giving files to another user needs root")
		}
		t.Skip("giving files to another user needs root")
	}
	const uid, gid = 4321, 4322
	b, slugDir, _ := newTestBuilder(t)
	id := storeSlug(t, slugDir, []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/", typ: tar.TypeDir, mode: 0o777},
		{name: "bin/run", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o755},
		{name: "implicit/dir/file.txt", typ: tar.TypeReg, body: "x", mode: 0o640},
		{name: "large.bin", typ: tar.TypeReg, body: strings.Repeat("l", smallFile+1), mode: 0o600},
		{name: "current", typ: tar.TypeSymlink, linkname: "bin/run"},
	})
	dest := filepath.Join(t.TempDir(), "app")
	if err := b.UnpackOwned(id, dest, uid, gid); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s belongs to %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
		n++
		return nil
	})
	if n != 8 {
		t.Errorf("%d entries, want 8", n)
	}
	for name, want := range map[string]os.FileMode{
		".":                     os.ModeDir | 0o700,
		"bin":                   os.ModeDir | 0o777,
		"bin/run":               0o755,
		"implicit":              os.ModeDir | 0o755,
		"implicit/dir/file.txt": 0o640,
		"large.bin":             0o600,
	} {
		fi, err := os.Stat(filepath.Join(dest, name))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
	escape := storeSlug(t, slugDir, []tarEntry{
		{name: "link", typ: tar.TypeSymlink, linkname: "/etc"},
		{name: "link/evil", typ: tar.TypeReg, body: "evil"},
	})
	bad := filepath.Join(t.TempDir(), "app")
	if err := b.UnpackOwned(escape, bad, uid, gid); err == nil {
		t.Error("UnpackOwned wrote through a symlink leading out")
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a failed UnpackOwned left dest")
	}
}

// TestUnpackDirectoriesHeldOpen checks the directories extraction holds
// open: more of them than it keeps (so that some are let go and opened
// again), entries coming back to a directory left long before, a file
// written through a symlink to a directory inside, and a directory
// named again after its files; none stays open afterwards.
func TestUnpackDirectoriesHeldOpen(t *testing.T) {
	var entries []tarEntry
	want := map[string]string{}
	for i := range 3 * maxDirFDs {
		name := fmt.Sprintf("d%03d/sub/f.txt", i)
		entries = append(entries, tarEntry{name: name, typ: tar.TypeReg, body: name})
		want[name] = name
	}
	for i := 0; i < 3*maxDirFDs; i += 7 {
		name := fmt.Sprintf("d%03d/sub/again.txt", i)
		entries = append(entries, tarEntry{name: name, typ: tar.TypeReg, body: name})
		want[name] = name
	}
	entries = append(entries,
		tarEntry{name: "real/", typ: tar.TypeDir},
		tarEntry{name: "alias", typ: tar.TypeSymlink, linkname: "real"},
		tarEntry{name: "alias/through.txt", typ: tar.TypeReg, body: "through"},
		tarEntry{name: "d000/", typ: tar.TypeDir, mode: 0o775},
	)
	want["real/through.txt"] = "through"
	b, slugDir, _ := newTestBuilder(t)
	id := storeSlug(t, slugDir, entries)
	dest := filepath.Join(t.TempDir(), "app")
	fds := len(listDir(t, "/proc/self/fd"))
	if err := b.Unpack(id, dest); err != nil {
		t.Fatal(err)
	}
	if n := len(listDir(t, "/proc/self/fd")); n > fds {
		t.Errorf("%d descriptors open after unpacking, %d before", n, fds)
	}
	for name, body := range want {
		if got, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(got) != body {
			t.Errorf("%s = %q, %v; want %q", name, got, err, body)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dest, "alias")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("alias: %v, %v; want the symlink", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "d000")); err != nil || fi.Mode().Perm() != 0o775 {
		t.Errorf("d000: %v, %v; want 0775", fi.Mode(), err)
	}
}
