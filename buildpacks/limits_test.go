package buildpacks

import (
	"archive/tar"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"hako/engine"
)

// bomb returns a tar.gz of files files of size bytes of zeros each, made
// as it is read: a few kilobytes that expand to files*size.
func bomb(t *testing.T, files int, size int64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		gz := gzip.NewWriter(pw)
		tw := tar.NewWriter(gz)
		var err error
		for i := 0; i < files && err == nil; i++ {
			err = tw.WriteHeader(&tar.Header{Name: "f" + strconv.Itoa(i), Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
			if err == nil {
				_, err = io.CopyN(tw, zeroReader{}, size)
			}
		}
		if err == nil {
			err = tw.Close()
		}
		if err == nil {
			err = gz.Close()
		}
		pw.CloseWithError(err)
	}()
	t.Cleanup(func() { pr.Close() })
	return pr
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestExtractSourceLimits checks that an uploaded source that expands past
// the byte or the entry limit is refused before the file past it is
// written, and that nothing of it stays.
func TestExtractSourceLimits(t *testing.T) {
	for _, tc := range []struct {
		name        string
		files       int
		size        int64
		want        string
		wantRefused bool
	}{
		{"within", 5, 1 << 20, "", false},
		{"bytes", 1, 1 << 30, "The uploaded source is too large: it expands to more than 8 MiB (the limit is 8 MiB). Leave out what the build does not need, or raise the server's --max-source.", true},
		{"entries", 30, 0, "The uploaded source is too large: it holds more than 20 files (the limit is 20 files). Leave out what the build does not need, or raise the server's --max-source.", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, _ := newTestBuilder(t)
			b.Limits = engine.BuildLimits{SourceBytes: 8 << 20, SourceEntries: 20}
			dest := filepath.Join(t.TempDir(), "src")
			err := b.ExtractSource(bomb(t, tc.files, tc.size), dest)
			if !tc.wantRefused {
				if err != nil {
					t.Fatalf("ExtractSource: %v", err)
				}
				return
			}
			if engine.ErrorCode(err) != engine.EINVALID || engine.ErrorMessage(err) != tc.want {
				t.Errorf("ExtractSource = %v, want EINVALID %q", err, tc.want)
			}
			if _, err := os.Stat(dest); !os.IsNotExist(err) {
				t.Errorf("the refused source was left at %s: %v", dest, err)
			}
		})
	}
}

// TestSlugTooLarge checks that a slug over the limit is refused in
// Heroku's words and not stored.
func TestSlugTooLarge(t *testing.T) {
	src, slugDir := t.TempDir(), t.TempDir()
	// Random content, which gzip cannot shrink.
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	writeFiles(t, src, map[string]string{"blob": string(data)})
	_, _, err := writeSlug(src, slugDir, 1<<20)
	var big *slugTooLarge
	if !errors.As(err, &big) || big.size < 1<<20 {
		t.Fatalf("writeSlug = %v, want a slugTooLarge", err)
	}
	if left, _ := os.ReadDir(slugDir); len(left) != 0 {
		t.Errorf("slug files left: %v", left)
	}
}
