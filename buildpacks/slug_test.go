package buildpacks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hako/engine"
)

func TestSlugIgnoreMatch(t *testing.T) {
	ig := parseSlugIgnore("# comment\n\n*.psd\ndocs/\n/tmp/*.log\nvendor/cache\n")
	tests := []struct {
		path  string
		isDir bool
		want  bool
	}{
		{"art.psd", false, true},
		{"assets/deep/art.psd", false, true},
		{"art.png", false, false},
		{"docs", true, true},
		{"src/docs", true, true},
		{"docs", false, false},
		{"tmp/a.log", false, true},
		{"tmp/sub/a.log", false, false},
		{"a.log", false, false},
		{"vendor/cache", true, true},
		{"x/vendor/cache", true, false},
	}
	for _, tt := range tests {
		if got := ig.match(tt.path, tt.isDir); got != tt.want {
			t.Errorf("match(%q, dir=%v) = %v, want %v", tt.path, tt.isDir, got, tt.want)
		}
	}
}

// A build leaves out .git and what .slugignore names, keeps modes and
// symlinks, and gives the same slug ID for the same tree.
func TestSlugContents(t *testing.T) {
	b, slugDir, _ := newTestBuilder(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"Procfile":          "web: ./bin/run\n",
		"bin/run":           "#!/bin/sh\necho hi\n",
		".slugignore":       "*.psd\ndocs/\n",
		"art/logo.psd":      "big",
		"art/logo.png":      "small",
		"docs/guide.md":     "guide",
		".git/HEAD":         "ref: refs/heads/main\n",
		"sub/.git":          "gitdir: ../.git/modules/sub\n",
		"sub/keep.txt":      "keep",
		"private/notes.txt": "n",
	})
	if err := os.Chmod(filepath.Join(src, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/run", filepath.Join(src, "run")); err != nil {
		t.Fatal(err)
	}
	res, err := b.Build(context.Background(), engine.BuildRequest{App: "x", SourceDir: src})
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "app")
	if err := b.Unpack(res.SlugID, dest); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dest, p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	want := []string{".", ".slugignore", "Procfile", "art", "art/logo.png", "bin", "bin/run", "private", "private/notes.txt", "run", "sub", "sub/keep.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("slug holds %q, want %q", got, want)
	}
	if fi, err := os.Stat(filepath.Join(dest, "bin", "run")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/run: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "private")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("private dir is not readable by the dyno user: %v %v", fi, err)
	}
	if link, _ := os.Readlink(filepath.Join(dest, "run")); link != "bin/run" {
		t.Errorf("run -> %q", link)
	}
	id2, _, err := writeSlug(src, slugDir, 0)
	if err != nil || id2 != res.SlugID {
		t.Errorf("rebuilding the same tree gave %s, %v; want %s", id2, err, res.SlugID)
	}
	for _, n := range listDir(t, slugDir) {
		if !strings.HasSuffix(n, ".tgz") || strings.HasPrefix(n, ".") {
			t.Errorf("stray file %s in the slug directory", n)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0K", 1: "1K", 1024: "1K", 300 << 10: "300K", 1 << 20: "1.0M", 3250585: "3.1M"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %s, want %s", n, got, want)
		}
	}
}
