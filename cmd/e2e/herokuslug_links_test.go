package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	heroku "github.com/heroku/heroku-go/v5"
)

// TestHerokuSlugHardLinks: a slug made from scratch with GNU tar
// (`tar czf slug.tgz ./app`) of a tree where one file has three names
// holds hard-link entries for the second and third; imported, each is a
// file of its own that the app serves with the contents and mode of the
// first. A hand-made archive whose hard link names a file outside the app
// is refused at upload with the entry named.
func TestHerokuSlugHardLinks(t *testing.T) {
	need(t, "python3", "tar")
	s := startServer(t)
	h := herokuService(t, s)
	ctx := context.Background()
	name := "linked"
	if _, err := h.AppCreate(ctx, heroku.AppCreateOpts{Name: &name}); err != nil {
		t.Fatal(err)
	}

	work := t.TempDir()
	const page = "one file, three names\n"
	for path, data := range map[string]string{
		"app/bin/web":           "#!/bin/sh\ncd public && exec python3 -m http.server \"$PORT\"\n",
		"app/public/index.html": page,
	} {
		if err := os.MkdirAll(filepath.Join(work, filepath.Dir(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, path), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(work, "app/public/store"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"app/public/twin.html", "app/public/store/copy.html"} {
		if err := os.Link(filepath.Join(work, "app/public/index.html"), filepath.Join(work, link)); err != nil {
			t.Fatal(err)
		}
	}
	slug := tarHerokuSlug(t, work)
	cmd := exec.Command("tar", "tvzf", "slug.tgz")
	cmd.Dir = work
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if links := strings.Count(string(out), " link to "); links != 2 {
		t.Fatalf("the archive holds %d hard links, want 2:\n%s", links, out)
	}

	imp, err := h.SlugCreate(ctx, name, heroku.SlugCreateOpts{ProcessTypes: map[string]string{"web": "bin/web"}})
	if err != nil {
		t.Fatal(err)
	}
	putBlob(t, imp.Blob.URL, slug)
	if _, err := h.ReleaseCreate(ctx, name, heroku.ReleaseCreateOpts{Slug: imp.ID}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/twin.html", "/store/copy.html"} {
		var body string
		waitFor(t, 30*time.Second, name+" to serve "+path, func() bool {
			code, b, err := s.get(name, path)
			body = b
			return err == nil && code == 200 && b == page
		}, func() string { return body })
	}
	// The stored slug holds three regular files, each with the first's
	// mode.
	rel, err := h.ReleaseList(ctx, name, nil)
	if err != nil || len(rel) == 0 || rel[len(rel)-1].Slug == nil {
		t.Fatalf("releases: %v %v", err, rel)
	}
	stored, err := h.SlugInfo(ctx, name, rel[len(rel)-1].Slug.ID)
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command("tar", "tvzf", "-")
	cmd.Stdin = strings.NewReader(fetchURL(t, stored.Blob.URL))
	if out, err = cmd.Output(); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		switch f[len(f)-1] {
		case "public/index.html", "public/twin.html", "public/store/copy.html":
			if f[0] != "-rwxr-xr-x" || f[2] != "22" {
				t.Errorf("stored slug: %s", l)
			}
		}
		if strings.Contains(l, " link to ") {
			t.Errorf("stored slug keeps a hard link: %s", l)
		}
	}

	// A hard link leaving the app is refused.
	var evil bytes.Buffer
	gw := gzip.NewWriter(&evil)
	tw := tar.NewWriter(gw)
	for _, hdr := range []*tar.Header{
		{Name: "./app/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./app/passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"},
	} {
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	bad, err := h.SlugCreate(ctx, name, heroku.SlugCreateOpts{ProcessTypes: map[string]string{"web": "bin/web"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", bad.Blob.URL, bytes.NewReader(evil.Bytes()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var refusal struct{ ID, Message string }
	err = json.NewDecoder(resp.Body).Decode(&refusal)
	resp.Body.Close()
	if want := `The slug is not a usable tar.gz: entry "./app/passwd": hard link target "/etc/passwd" is not a file of the app`; err != nil ||
		resp.StatusCode != 422 || refusal.ID != "invalid_params" || refusal.Message != want {
		t.Errorf("PUT of a slug linking out = %d %+v %v, want 422 invalid_params %s", resp.StatusCode, refusal, err, want)
	}
}
