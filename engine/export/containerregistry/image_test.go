package containerregistry

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hako/engine/export"
)

// writeSlug writes a slug archive of files (name -> content; a trailing
// "/" makes a directory) and returns its path and sha256.
func writeSlug(t *testing.T, files [][2]string) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "slug.tgz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, kv := range files {
		h := &tar.Header{Name: kv[0], Mode: 0o755, Size: int64(len(kv[1])), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}
		if strings.HasSuffix(kv[0], "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(kv[1]))
	}
	tw.Close()
	gz.Close()
	f.Close()
	b, _ := os.ReadFile(p)
	sum := sha256.Sum256(b)
	return p, hex.EncodeToString(sum[:])
}

func testRelease(sum string) *export.Release {
	return &export.Release{App: "demo", Version: 3, Commit: "abc123", SlugSHA256: sum,
		ProcessTypes: map[string]string{"web": "./bin/web", "worker": "./bin/worker"},
		CreatedAt:    time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
}

var demoFiles = [][2]string{{"bin/", ""}, {"bin/web", "#!/bin/sh\necho web\n"}, {".profile.d/", ""}, {".profile.d/a.sh", "export A=1\n"}}

// TestImageReproducible builds the same release twice, in different
// directories and at different times, and gets the same digest; a
// different slug gives another.
func TestImageReproducible(t *testing.T) {
	slug, sum := writeSlug(t, demoFiles)
	digest := func(slug, sum string) string {
		img, err := Image(testRelease(sum), Options{Slug: slug, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	first := digest(slug, sum)
	time.Sleep(1100 * time.Millisecond) // a clock that leaked in would show
	if again := digest(slug, sum); again != first {
		t.Errorf("digest = %s, then %s", first, again)
	}
	other, osum := writeSlug(t, append(demoFiles, [2]string{"bin/worker", "x"}))
	if d := digest(other, osum); d == first {
		t.Errorf("another slug gave the same digest %s", d)
	}
}

// TestImageRoundTrip writes an image as a layout and a tar, reads each
// back, and gets the slug archive byte for byte, its labels and config.
func TestImageRoundTrip(t *testing.T) {
	slug, sum := writeSlug(t, demoFiles)
	rel := testRelease(sum)
	img, err := Image(rel, Options{Slug: slug, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tarFile, err := Write(dir, rel, img)
	if err != nil {
		t.Fatal(err)
	}
	// A second export of the same release replaces the first in the index.
	if _, err := Write(dir, rel, img); err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/hako/start" {
		t.Errorf("entrypoint = %q", got)
	}
	if got := cf.Config.Cmd; len(got) != 1 || got[0] != "./bin/web" {
		t.Errorf("cmd = %q", got)
	}
	for k, v := range map[string]string{"io.hako.app": "demo", "io.hako.release": "v3", "io.hako.commit": "abc123", "io.hako.slug.sha256": sum} {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
		}
	}
	for _, src := range []string{dir, tarFile} {
		im, err := Read(src, "", t.TempDir())
		if err != nil {
			t.Fatalf("read %s: %v", src, err)
		}
		got, _ := fileSHA256(im.Slug)
		if got != sum || im.Release.App != "demo" || im.Release.Version != 3 || im.Release.ProcessTypes["worker"] != "./bin/worker" {
			t.Errorf("read %s: sha256 %s, release %+v", src, got, im.Release)
		}
	}
}

// TestImageRefusesEscapingSlug: a slug whose entry would land outside
// /app (an imported slug is anyone's) makes no image.
func TestImageRefusesEscapingSlug(t *testing.T) {
	for _, name := range []string{"../etc/passwd", "/etc/passwd", "bin/../../x"} {
		slug, sum := writeSlug(t, [][2]string{{name, "root::0:0::/:/bin/sh\n"}})
		_, err := Image(testRelease(sum), Options{Slug: slug, TempDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "outside the app's directory") {
			t.Errorf("%s: err = %v, want a refusal", name, err)
		}
	}
}
