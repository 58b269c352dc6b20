package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// ent is an entry of a test archive.
type ent struct {
	name string
	typ  byte
	mode int64
	body string // a regular file's contents, a link's target
}

func dir(name string) ent        { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func file(name, body string) ent { return ent{name: name, typ: tar.TypeReg, mode: 0o644, body: body} }
func exe(name, body string) ent  { return ent{name: name, typ: tar.TypeReg, mode: 0o755, body: body} }
func hardlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeLink, mode: 0o600, body: target}
}
func symlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, mode: 0o777, body: target}
}

// archive is a tar.gz of the entries; with hako set, its gzip header
// carries the 'H','k' subfield as hako's slug members do.
func archive(t *testing.T, hako bool, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	if hako {
		extra := []byte{'H', 'k', 4, 0, 0, 0, 0, 0}
		binary.LittleEndian.PutUint32(extra[4:], 1234)
		gw.Header.Extra = extra
	}
	tw := tar.NewWriter(gw)
	for _, e := range ents {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, ModTime: time.Unix(1700000000, 0),
			Uid: 501, Gid: 20, Uname: "dev", Gname: "staff"}
		if e.typ == tar.TypeXGlobalHeader {
			hdr = &tar.Header{Name: e.name, Typeflag: e.typ, PAXRecords: map[string]string{"comment": "0123abcd"}}
		}
		switch e.typ {
		case tar.TypeReg:
			hdr.Size = int64(len(e.body))
		case tar.TypeSymlink, tar.TypeLink:
			hdr.Linkname = e.body
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// listing is an archive's entries, one line each: name, kind, mode,
// owner, then a file's contents or a link's target.
func listing(t *testing.T, data []byte) []string {
	t.Helper()
	gr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gr)
	var out []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%s %c %04o %d:%d", hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid)
		switch hdr.Typeflag {
		case tar.TypeReg:
			line += " " + string(body)
		case tar.TypeSymlink:
			line += " -> " + hdr.Linkname
		}
		out = append(out, line)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "SHA256:" + hex.EncodeToString(s[:])
}

// importEngine is an engine that keeps slugs in a directory of its own.
func importEngine(t *testing.T) *Engine {
	t.Helper()
	return &Engine{Parts: Parts{Paths: Layout{Slugs: t.TempDir()}}}
}

// storedFiles lists the slug directory.
func storedFiles(t *testing.T, e *Engine) []string {
	t.Helper()
	ents, err := os.ReadDir(e.Paths.Slugs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ents {
		names = append(names, d.Name())
	}
	return names
}

// TestSlugImportShape: ImportSlug stores an archive in Heroku's shape
// (the app under ./app or app/) with the prefix removed, and every other
// archive, hako's own with an app/ directory only among them, byte for
// byte.
func TestSlugImportShape(t *testing.T) {
	app := []ent{exe("./app/bin/web", "#!/bin/sh\n"), file("./app/Procfile", "web: bin/web\n"),
		symlink("./app/bin/start", "web"), symlink("./app/vendor/abs", "/app/bin/web"),
		{name: "./app/secret", typ: tar.TypeReg, mode: 0o4750, body: "s"}}
	rewritten := []string{
		"bin/ 5 0755 0:0",
		"bin/web 0 0755 0:0 #!/bin/sh\n",
		"vendor/ 5 0700 0:0",
		"Procfile 0 0644 0:0 web: bin/web\n",
		"bin/start 2 0777 0:0 -> web",
		"vendor/abs 2 0777 0:0 -> /app/bin/web",
		"secret 0 4750 0:0 s",
	}
	noDotApp := func(es []ent) []ent {
		out := slices.Clone(es)
		for i := range out {
			out[i].name = strings.TrimPrefix(out[i].name, "./")
		}
		return out
	}
	withDirs := func(first []ent, es []ent) []ent {
		es = slices.Clone(es)
		es = slices.Insert(es, 1, ent{name: "./app/vendor/", typ: tar.TypeDir, mode: 0o700})
		es = slices.Insert(es, 0, dir("./app/bin/"))
		return append(first, es...)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want []string // nil: stored byte for byte
	}{
		{"heroku ./app", archive(t, false, withDirs([]ent{dir("./"), dir("./app/")}, app)...), rewritten},
		{"heroku app/", archive(t, false, noDotApp(withDirs([]ent{dir("app/")}, app))...), rewritten},
		{"heroku without the app directory's entry", archive(t, false, file("app/index.html", "hi")),
			[]string{"index.html 0 0644 0:0 hi"}},
		{"heroku app as ./app without slash", archive(t, false, dir("."), dir("./app"), file("./app/a", "x")),
			[]string{"a 0 0644 0:0 x"}},
		{"heroku after a PAX global header", archive(t, false, ent{name: "pax_global_header", typ: tar.TypeXGlobalHeader}, dir("app/"), file("app/a", "x")),
			[]string{"a 0 0644 0:0 x"}},
		{"hako member with app/ only", archive(t, true, dir("app/"), file("app/Procfile", "web: x\n")), nil},
		{"hako member", archive(t, true, file("Procfile", "web: x\n")), nil},
		{"heroku hard links become copies", archive(t, false, dir("./app/"), dir("./app/bin/"), exe("./app/bin/web", "#!/bin/sh\n"),
			hardlink("./app/bin/web2", "./app/bin/web"), hardlink("app/w3", "app/bin/web"), hardlink("./app/w4", "./app/w3"),
			file("./app/a", "old"), hardlink("./app/b", "./app/a"), file("./app/a", "new"), hardlink("./app/c", "./app/a")),
			[]string{"bin/ 5 0755 0:0", "bin/web 0 0755 0:0 #!/bin/sh\n", "bin/web2 0 0755 0:0 #!/bin/sh\n",
				"w3 0 0755 0:0 #!/bin/sh\n", "w4 0 0755 0:0 #!/bin/sh\n",
				"a 0 0644 0:0 old", "b 0 0644 0:0 old", "a 0 0644 0:0 new", "c 0 0644 0:0 new"}},
		{"hako member with a hard link", archive(t, true, file("a", "x"), hardlink("b", "a")), nil},
		{"hard link at the top level", archive(t, false, dir("app/"), file("app/a", "x"), hardlink("b", "app/a")), nil},
		{"mixed top level", archive(t, false, dir("app/"), file("app/a", "x"), file("Procfile", "web: x\n")), nil},
		{"mixed ./ level", archive(t, false, dir("./"), dir("./app/"), file("./README", "x")), nil},
		{"app is a file", archive(t, false, file("app", "x")), nil},
		{"application/ is not app/", archive(t, false, dir("application/"), file("application/a", "x")), nil},
		{"empty archive", archive(t, false), nil},
		{"only the root", archive(t, false, dir("./")), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := importEngine(t)
			got, err := e.ImportSlug(bytes.NewReader(tc.data), "salt")
			if err != nil {
				t.Fatal(err)
			}
			stored, err := os.ReadFile(filepath.Join(e.Paths.Slugs, got.ID+".tgz"))
			if err != nil {
				t.Fatal(err)
			}
			if got.Checksum != sha(tc.data) || got.Size != int64(len(tc.data)) {
				t.Errorf("reported %s, %d bytes; want the upload's %s, %d", got.Checksum, got.Size, sha(tc.data), len(tc.data))
			}
			if got.StoredChecksum != sha(stored) || got.StoredSize != int64(len(stored)) {
				t.Errorf("stored as %s, %d bytes; the file is %s, %d", got.StoredChecksum, got.StoredSize, sha(stored), len(stored))
			}
			if tc.want == nil {
				if !bytes.Equal(stored, tc.data) {
					t.Errorf("stored %d bytes differing from the upload; listing:\n%s", len(stored), strings.Join(listing(t, stored), "\n"))
				}
				return
			}
			if l := listing(t, stored); !slices.Equal(l, tc.want) {
				t.Errorf("stored listing:\n%s\nwant:\n%s", strings.Join(l, "\n"), strings.Join(tc.want, "\n"))
			}
			if files := storedFiles(t, e); !slices.Equal(files, []string{got.ID + ".tgz"}) {
				t.Errorf("slug directory holds %v", files)
			}
		})
	}
}

// TestHerokuSlugRefused: a Heroku-shaped archive whose entries unpacking
// would refuse, or whose links leave the app, is refused at import with
// the entry named, and nothing is stored.
func TestHerokuSlugRefused(t *testing.T) {
	base := []ent{dir("./app/"), file("./app/Procfile", "web: x\n"), dir("./app/bin/"), symlink("./app/l", "Procfile")}
	for _, tc := range []struct {
		name string
		bad  ent
		want string
		more []ent
	}{
		{"climbs", file("app/../x", "x"), `The slug is not a usable tar.gz: entry "app/../x": names with ".." are refused`, nil},
		{"climbs with ./", file("./app/a/../../../etc/x", "x"), `The slug is not a usable tar.gz: entry "./app/a/../../../etc/x": names with ".." are refused`, nil},
		{"absolute", file("/app/x", "x"), `The slug is not a usable tar.gz: entry "/app/x": absolute or malformed name`, nil},
		{"absolute outside", file("/etc/cron.d/x", "x"), `The slug is not a usable tar.gz: entry "/etc/cron.d/x": absolute or malformed name`, nil},
		{"backslash", file(`app/..\x`, "x"), `The slug is not a usable tar.gz: entry "app/..\\x": absolute or malformed name`, nil},
		{"relative link out", symlink("./app/l", "../etc/passwd"), `The slug is not a usable tar.gz: entry "./app/l": link target "../etc/passwd" leaves the app`, nil},
		{"deep link out", symlink("app/a/b/l", "../../../x"), `The slug is not a usable tar.gz: entry "app/a/b/l": link target "../../../x" leaves the app`, nil},
		{"absolute link out", symlink("app/l", "/etc/passwd"), `The slug is not a usable tar.gz: entry "app/l": link target "/etc/passwd" leaves /app`, nil},
		{"absolute link beside app", symlink("app/l", "/application"), `The slug is not a usable tar.gz: entry "app/l": link target "/application" leaves /app`, nil},
		{"hard link out", hardlink("app/h", "etc/passwd"),
			`The slug is not a usable tar.gz: entry "app/h": hard link target "etc/passwd" is not a file of the app`, nil},
		{"hard link absolute", hardlink("app/h", "/app/Procfile"),
			`The slug is not a usable tar.gz: entry "app/h": hard link target "/app/Procfile" is not a file of the app`, nil},
		{"hard link climbing", hardlink("app/h", "./app/../../etc/passwd"),
			`The slug is not a usable tar.gz: entry "app/h": hard link target "./app/../../etc/passwd" is not a file of the app`, nil},
		{"hard link to the app", hardlink("app/h", "./app/"),
			`The slug is not a usable tar.gz: entry "app/h": hard link target "./app/" is not a file of the app`, nil},
		{"hard link to a later file", hardlink("app/h", "app/later"),
			`The slug is not a usable tar.gz: entry "app/h": hard link target "app/later" is not an earlier file of the slug`, []ent{file("app/later", "x")}},
		{"hard link to nothing", hardlink("app/h", "app/nothing"),
			`The slug is not a usable tar.gz: entry "app/h": hard link target "app/nothing" is not an earlier file of the slug`, nil},
		{"hard link to a directory", hardlink("app/h", "./app/bin"),
			`The slug is not a usable tar.gz: entry "app/h": hard link target "./app/bin" is not a regular file`, nil},
		{"hard link to a symlink", hardlink("app/h", "./app/l"),
			`The slug is not a usable tar.gz: entry "app/h": hard link target "./app/l" is not a regular file`, nil},
		{"hard link to a file replaced by a directory", dir("./app/Procfile/"),
			`The slug is not a usable tar.gz: entry "app/h": hard link target "app/Procfile" is not a regular file`, []ent{hardlink("app/h", "app/Procfile")}},
		{"char device", ent{name: "app/null", typ: tar.TypeChar, mode: 0o666},
			`The slug is not a usable tar.gz: entry "app/null": unsupported type '3' (only directories, regular files, symlinks and hard links to earlier files may be in a slug)`, nil},
		{"block device", ent{name: "./app/sda", typ: tar.TypeBlock, mode: 0o660},
			`The slug is not a usable tar.gz: entry "./app/sda": unsupported type '4' (only directories, regular files, symlinks and hard links to earlier files may be in a slug)`, nil},
		{"fifo", ent{name: "app/fifo", typ: tar.TypeFifo, mode: 0o644},
			`The slug is not a usable tar.gz: entry "app/fifo": unsupported type '6' (only directories, regular files, symlinks and hard links to earlier files may be in a slug)`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := importEngine(t)
			_, err := e.ImportSlug(bytes.NewReader(archive(t, false, append(append(slices.Clone(base), tc.bad), tc.more...)...)), "salt")
			if ErrorCode(err) != EINVALID || ErrorMessage(err) != tc.want {
				t.Errorf("got %v (%s), want EINVALID %s", err, ErrorCode(err), tc.want)
			}
			if files := storedFiles(t, e); len(files) != 0 {
				t.Errorf("slug directory holds %v", files)
			}
		})
	}
}

// TestHerokuSlugLimits: the rewritten archive is held to the limits the
// upload is.
func TestHerokuSlugLimits(t *testing.T) {
	ents := []ent{dir("app/")}
	for i := range 5 {
		ents = append(ents, file(fmt.Sprintf("app/f%d", i), strings.Repeat("x", 100)))
	}
	data := archive(t, false, ents...)
	var buf bytes.Buffer
	err := rewriteHerokuSlug(bytes.NewReader(data), &buf, nil, "", 1<<20, 4, 1<<20)
	if want := "The slug holds more than 4 files."; ErrorMessage(err) != want {
		t.Errorf("4 entries: got %v, want %s", err, want)
	}
	buf.Reset()
	err = rewriteHerokuSlug(bytes.NewReader(data), &buf, nil, "", 499, 10, 1<<20)
	if want := "The slug expands to more than 0 MiB."; ErrorMessage(err) != want {
		t.Errorf("499 bytes: got %v, want %s", err, want)
	}
	buf.Reset()
	err = rewriteHerokuSlug(bytes.NewReader(data), &buf, nil, "", 1<<20, 10, 40)
	if want := "The slug is larger than this server allows (0 MB compressed)."; ErrorMessage(err) != want {
		t.Errorf("40 bytes compressed: got %v, want %s", err, want)
	}
	buf.Reset()
	if err := rewriteHerokuSlug(bytes.NewReader(data), &buf, nil, "", 500, 5, 1<<20); err != nil {
		t.Errorf("at the limits: %v", err)
	}
}

// TestHerokuSlugLinkLimits: each copy a hard link becomes counts against
// the expanded size and entry limits as the file it copies did.
func TestHerokuSlugLinkLimits(t *testing.T) {
	data := archive(t, false, dir("app/"), file("app/f", strings.Repeat("x", 500)), hardlink("app/g", "app/f"), hardlink("app/h", "app/f"))
	linked := map[string]bool{"f": true}
	var buf bytes.Buffer
	err := rewriteHerokuSlug(bytes.NewReader(data), &buf, linked, t.TempDir(), 1499, 10, 1<<20)
	if want := "The slug expands to more than 0 MiB."; ErrorMessage(err) != want {
		t.Errorf("1499 bytes: got %v, want %s", err, want)
	}
	buf.Reset()
	err = rewriteHerokuSlug(bytes.NewReader(data), &buf, linked, t.TempDir(), 1500, 2, 1<<20)
	if want := "The slug holds more than 2 files."; ErrorMessage(err) != want {
		t.Errorf("2 entries: got %v, want %s", err, want)
	}
	buf.Reset()
	spill := t.TempDir()
	if err := rewriteHerokuSlug(bytes.NewReader(data), &buf, linked, spill, 1500, 3, 1<<20); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	if left, _ := os.ReadDir(spill); len(left) != 0 {
		t.Errorf("the rewrite left %d files behind", len(left))
	}
	want := []string{"f 0 0644 0:0 " + strings.Repeat("x", 500), "g 0 0644 0:0 " + strings.Repeat("x", 500), "h 0 0644 0:0 " + strings.Repeat("x", 500)}
	if l := listing(t, buf.Bytes()); !slices.Equal(l, want) {
		t.Errorf("listing %q", l)
	}
}

// TestIsHakoSlug: only a gzip header whose extra field holds an 'H','k'
// subfield marks hako's slugs.
func TestIsHakoSlug(t *testing.T) {
	hdr := func(flags byte, extra ...byte) []byte {
		b := []byte{0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3, byte(len(extra)), byte(len(extra) >> 8)}
		return append(append(b, extra...), make([]byte, 16)...)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"hako's member header", hdr(0x04, 'H', 'k', 4, 0, 1, 2, 3, 4), true},
		{"Hk after another subfield", hdr(0x04, 'A', 'P', 2, 0, 9, 9, 'H', 'k', 4, 0, 1, 2, 3, 4), true},
		{"no FEXTRA", hdr(0x00, 'H', 'k', 4, 0, 1, 2, 3, 4), false},
		{"another subfield", hdr(0x04, 'A', 'P', 4, 0, 1, 2, 3, 4), false},
		{"subfield longer than the field", hdr(0x04, 'A', 'P', 40, 0, 'H', 'k', 0, 0), false},
		{"field past the end", []byte{0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 3, 200, 0, 'H', 'k'}, false},
		{"not gzip", []byte("PK\x03\x04 not a gzip file at all"), false},
		{"short", []byte{0x1f, 0x8b}, false},
		{"stdlib gzip", archive(t, false, file("a", "b")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isHakoSlug(bytes.NewReader(tc.data)); got != tc.want {
				t.Errorf("isHakoSlug = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkImportSlug imports a 32 MiB tree of 2,000 files in Heroku's
// shape (rewritten) and with a file beside app/ (stored as is), to show
// what the rewrite costs: go test ./engine -run '^$' -bench ImportSlug.
func BenchmarkImportSlug(b *testing.B) {
	var t testing.T
	line := []byte("the quick brown fox jumps over the lazy dog 0123456789\n")
	var ents []ent
	for i := range 2000 {
		var body bytes.Buffer
		for body.Len() < 16<<10 {
			fmt.Fprintf(&body, "%d %d ", i, body.Len())
			body.Write(line)
		}
		ents = append(ents, file(fmt.Sprintf("./app/d%02d/f%04d", i%50, i), body.String()))
	}
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"heroku", archive(&t, false, ents...)},
		{"as-is", archive(&t, false, append(slices.Clone(ents), file("./Procfile", "web: x\n"))...)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(32 << 20)
			for i := range b.N {
				e := &Engine{Parts: Parts{Paths: Layout{Slugs: b.TempDir()}}}
				if _, err := e.ImportSlug(bytes.NewReader(bc.data), fmt.Sprint(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
