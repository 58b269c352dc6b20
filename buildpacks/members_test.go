package buildpacks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// memberSlug returns a slug as writeSlug makes it, of files large
// enough to span several members, and the files.
func memberSlug(t *testing.T) ([]byte, map[string]string) {
	t.Helper()
	src, slugDir := t.TempDir(), t.TempDir()
	r := rand.New(rand.NewPCG(7, 8))
	files := map[string]string{}
	for i := range 12 {
		var b strings.Builder
		for b.Len() < 300<<10 {
			fmt.Fprintf(&b, "line %d of file %d: %x\n", b.Len(), i, r.Uint64())
		}
		files[fmt.Sprintf("d%d/f%02d.txt", i%3, i)] = b.String()
	}
	writeFiles(t, src, files)
	id, _, err := writeSlug(src, slugDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(slugDir, id+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	return data, files
}

// members returns the offsets of the members of a slug as writeSlug
// makes it.
func members(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	for off := 0; off < len(data); {
		_, total, ok := parseMemberHeader(data[off:])
		if !ok {
			t.Fatalf("no member header at byte %d", off)
		}
		offs = append(offs, off)
		off += total
	}
	return offs
}

// storeRawSlug stores data as a slug and returns its ID.
func storeRawSlug(t *testing.T, slugDir string, data []byte) string {
	t.Helper()
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(slugDir, id+".tgz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSlugMembers checks that a slug is several gzip members that each
// say their length, which gzip readers take for one stream of the tar.
func TestSlugMembers(t *testing.T) {
	data, files := memberSlug(t)
	if n := len(members(t, data)); n < 3 {
		t.Errorf("%d members, want several", n)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	seen := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if want, ok := files[hdr.Name]; ok {
			got, _ := io.ReadAll(tr)
			if string(got) != want {
				t.Errorf("%s: %d bytes, want %d", hdr.Name, len(got), len(want))
			}
			seen++
		}
	}
	if seen != len(files) {
		t.Errorf("compress/gzip read %d of the %d files", seen, len(files))
	}
	if _, err := exec.LookPath("tar"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tar is not installed")
		}
		t.Skip("tar is not installed")
	}
	slug := filepath.Join(t.TempDir(), "slug.tgz")
	os.WriteFile(slug, data, 0o644)
	dest := t.TempDir()
	if out, err := exec.Command("tar", "xzf", slug, "-C", dest).CombinedOutput(); err != nil {
		t.Fatalf("tar xzf: %v\n%s", err, out)
	}
	for name, want := range files {
		if got, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(got) != want {
			t.Errorf("tar xzf: %s: %d bytes, %v", name, len(got), err)
		}
	}
}

// TestUnpackMembersHostile unpacks slugs whose member lengths lie or
// whose members are damaged: each must either unpack exactly what
// reading the file as one gzip stream gives, or fail, remove dest and
// write nothing elsewhere.
func TestUnpackMembersHostile(t *testing.T) {
	good, files := memberSlug(t)
	offs := members(t, good)
	setLen := func(data []byte, member int, f func(int) int) {
		p := data[offs[member]+16:]
		binary.LittleEndian.PutUint32(p, uint32(f(int(binary.LittleEndian.Uint32(p)))))
	}
	const (
		refused = iota
		unpacks
		either // refused, or unpacks what reading it in order does
	)
	tests := []struct {
		name   string
		mutate func(data []byte) []byte
		want   int
	}{
		{"as written", func(d []byte) []byte { return d }, unpacks},
		{"length one short", func(d []byte) []byte { setLen(d, 1, func(n int) int { return n - 1 }); return d }, refused},
		{"length one long", func(d []byte) []byte { setLen(d, 1, func(n int) int { return n + 1 }); return d }, refused},
		{"length into the next member", func(d []byte) []byte { setLen(d, 0, func(n int) int { return n + 100 }); return d }, refused},
		{"length past the end", func(d []byte) []byte { setLen(d, 2, func(int) int { return 1 << 31 }); return d }, unpacks},
		{"length zero", func(d []byte) []byte { setLen(d, 2, func(int) int { return 0 }); return d }, unpacks},
		{"last member's length short", func(d []byte) []byte { setLen(d, len(offs)-1, func(n int) int { return n - 9 }); return d }, refused},
		{"deflate data damaged", func(d []byte) []byte { d[offs[1]+memberHeaderLen+500] ^= 0x55; return d }, refused},
		{"checksum damaged", func(d []byte) []byte { d[offs[2]-8] ^= 1; return d }, refused},
		{"size damaged", func(d []byte) []byte { d[offs[2]-4] ^= 1; return d }, refused},
		{"truncated", func(d []byte) []byte { return d[:offs[2]+1000] }, refused},
		// The tar's end is read before the trailer, as gunzip piped
		// to tar does.
		{"trailer cut off", func(d []byte) []byte { return d[:len(d)-5] }, either},
		{"members swapped", func(d []byte) []byte {
			out := append([]byte(nil), d[:offs[1]]...)
			out = append(out, d[offs[2]:offs[3]]...)
			out = append(out, d[offs[1]:offs[2]]...)
			return append(out, d[offs[3]:]...)
		}, either},
		{"a plain gzip stream after the members", func(d []byte) []byte {
			// The last member (the end of the tar) moved behind a
			// member without a length: the rest is read in order.
			var plain bytes.Buffer
			zw := gzip.NewWriter(&plain)
			zr, _ := gzip.NewReader(bytes.NewReader(d[offs[len(offs)-1]:]))
			io.Copy(zw, zr)
			zw.Close()
			return append(d[:offs[len(offs)-1]:offs[len(offs)-1]], plain.Bytes()...)
		}, unpacks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.mutate(bytes.Clone(good))
			b, slugDir, _ := newTestBuilder(t)
			id := storeRawSlug(t, slugDir, data)
			base := t.TempDir()
			dest := filepath.Join(base, "app")
			err := b.Unpack(id, dest)
			// The same file read in order, as a stream.
			inOrder := filepath.Join(t.TempDir(), "app")
			orderErr := unpackInto(struct{ io.Reader }{bytes.NewReader(data)}, inOrder, sizeLimit{})
			if err != nil {
				t.Logf("refused: %v", err)
				if got := listDir(t, base); len(got) != 0 {
					t.Errorf("left %v behind", got)
				}
				if tt.want == unpacks {
					t.Fatal("Unpack refused the slug")
				}
				return
			}
			if tt.want == refused {
				t.Fatal("Unpack accepted the slug")
			}
			if orderErr != nil {
				t.Fatalf("Unpack accepted the slug, which read in order fails: %v", orderErr)
			}
			if got, want := treeContents(t, dest), treeContents(t, inOrder); !maps.Equal(got, want) {
				t.Errorf("unpacked %d entries, which differ from the %d read in order", len(got), len(want))
			}
			if tt.want == either {
				return
			}
			for name, want := range files {
				if got, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(got) != want {
					t.Errorf("%s: %d bytes, %v", name, len(got), err)
				}
			}
		})
	}
}

// TestGunzipMatchesOneStream damages member lengths at random and checks
// that whatever the parallel reader returns, it is what reading the file
// as one gzip stream returns.
func TestGunzipMatchesOneStream(t *testing.T) {
	good, _ := memberSlug(t)
	offs := members(t, good)
	want, err := io.ReadAll(mustGzip(t, good))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	path := filepath.Join(t.TempDir(), "slug.tgz")
	for i := range 40 {
		data := bytes.Clone(good)
		m := offs[r.IntN(len(offs))]
		p := data[m+16:]
		n := int(binary.LittleEndian.Uint32(p))
		switch i % 4 {
		case 0:
			n += r.IntN(64) - 32
		case 1:
			n = r.IntN(len(data))
		case 2:
			n = offs[r.IntN(len(offs))] - m
		case 3:
			data[m+memberHeaderLen+r.IntN(n-memberHeaderLen)] ^= byte(1 + r.IntN(255))
		}
		binary.LittleEndian.PutUint32(p, uint32(n))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gunzip(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		zr.Close()
		f.Close()
		if err != nil {
			continue // refused: fine
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: read %d bytes that differ from the stream's %d", i, len(got), len(want))
		}
	}
}

// oneMember returns a slug of one member holding a file of body, as a
// hostile slug would have it, not as writeSlug cuts it.
func oneMember(t *testing.T, body []byte) []byte {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
	tw.Write(body)
	tw.Close()
	var slug bytes.Buffer
	mw, err := newMemberWriter(&slug, slugLevel, 1)
	if err != nil {
		t.Fatal(err)
	}
	mw.buf = make([]byte, 0, tarBuf.Len())
	mw.Write(tarBuf.Bytes())
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(members(t, slug.Bytes())); n != 1 {
		t.Fatalf("%d members, want 1", n)
	}
	return slug.Bytes()
}

// TestUnpackMemberBomb checks that a member saying it is short but
// inflating to far more than a member may is refused, not held in
// memory, and that one too long to read whole is read as a stream.
func TestUnpackMemberBomb(t *testing.T) {
	b, slugDir, _ := newTestBuilder(t)
	bomb := storeRawSlug(t, slugDir, oneMember(t, make([]byte, 2*maxMemberOut)))
	dest := filepath.Join(t.TempDir(), "app")
	err := b.Unpack(bomb, dest)
	if err == nil || !strings.Contains(err.Error(), errMemberTooLarge.Error()) {
		t.Fatalf("Unpack = %v, want %q", err, errMemberTooLarge)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("dest left behind")
	}

	noise := make([]byte, maxMemberIn+1)
	rand.NewChaCha8([32]byte{3, 4}).Read(noise)
	long := storeRawSlug(t, slugDir, oneMember(t, noise))
	if err := b.Unpack(long, dest); err != nil {
		t.Fatalf("a member too long to read whole: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dest, "big")); err != nil || !bytes.Equal(got, noise) {
		t.Errorf("big: %d bytes, %v; want %d", len(got), err, len(noise))
	}
}

// TestUnpackMembersLimits checks that a slug read member by member is
// held to the same limits as one read in order.
func TestUnpackMembersLimits(t *testing.T) {
	data, _ := memberSlug(t)
	path := filepath.Join(t.TempDir(), "slug.tgz")
	os.WriteFile(path, data, 0o644)
	for _, lim := range []sizeLimit{{bytes: 1 << 20}, {entries: 5}} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(t.TempDir(), "app")
		err = unpackInto(f, dest, lim)
		f.Close()
		if _, ok := err.(*overLimit); !ok {
			t.Errorf("limit %+v: %v, want over the limit", lim, err)
		}
		if _, err := os.Stat(dest); err == nil {
			t.Errorf("limit %+v: dest left behind", lim)
		}
	}
}

// treeContents maps each path under dir to its mode and contents.
func treeContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		v := info.Mode().String()
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(data)
		}
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustGzip(t *testing.T, data []byte) io.Reader {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestMemberWriterFails checks that a failure to write a member reaches
// the writer's caller, and that no goroutine of it stays behind.
func TestMemberWriterFails(t *testing.T) {
	before := runtime.NumGoroutine()
	mw, err := newMemberWriter(failingWriter{}, slugLevel, 2)
	if err != nil {
		t.Fatal(err)
	}
	_, werr := mw.Write(make([]byte, 5*memberSize))
	if cerr := mw.Close(); werr == nil && cerr == nil {
		t.Fatal("a failed write went unreported")
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 100 {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
