package buildpacks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"hako/engine"
)

// TestImportKeepsSlugsWrittenHere: the engine's slug import tells the
// slugs writeSlug makes by their gzip header, so a slug of an app whose
// only top-level entry is app/ is stored byte for byte (an export
// imported again keeps its sha256), while the same tree in a plain
// tar.gz is taken for Heroku's shape and stored with app/ removed, in a
// form the unpacker extracts.
func TestImportKeepsSlugsWrittenHere(t *testing.T) {
	src, slugDir := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"app/Procfile": "web: bin/web\n", "app/bin/web": "#!/bin/sh\n"})
	if err := os.Chmod(filepath.Join(src, "app/bin/web"), 0o755); err != nil {
		t.Fatal(err)
	}
	id, _, err := writeSlug(src, slugDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(filepath.Join(slugDir, id+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	e := &engine.Engine{Parts: engine.Parts{Paths: engine.Layout{Slugs: t.TempDir()}}}
	got, err := e.ImportSlug(bytes.NewReader(ours), "one")
	if err != nil {
		t.Fatal(err)
	}
	if stored, err := os.ReadFile(filepath.Join(e.Paths.Slugs, got.ID+".tgz")); err != nil || !bytes.Equal(stored, ours) {
		t.Errorf("hako's slug was not stored byte for byte (%v)", err)
	}

	// The same entries, gzipped without hako's header.
	plain := regzip(t, ours)
	got, err = e.ImportSlug(bytes.NewReader(plain), "two")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(e.Paths.Slugs, got.ID+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dest := filepath.Join(t.TempDir(), "app")
	if err := unpackInto(f, dest, sizeLimit{bytes: 1 << 20, entries: 100}); err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dest, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, rel+" "+info.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{". drwxr-xr-x", "Procfile -rw-r--r--", "bin drwxr-xr-x", "bin/web -rwxr-xr-x"}; !slices.Equal(files, want) {
		t.Errorf("the Heroku-shaped import unpacks to %q, want %q", files, want)
	}
}

// regzip inflates a tar.gz and compresses it again with the standard
// library, whose header carries no extra field.
func regzip(t *testing.T, data []byte) []byte {
	t.Helper()
	gr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(gr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tar.NewReader(bytes.NewReader(raw)).Next(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	if _, err := gw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
