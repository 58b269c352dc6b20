package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	heroku "github.com/heroku/heroku-go/v5"
)

// TestHerokuSlugFromScratch follows Heroku's "Deploying slugs using the
// Platform API" with heroku-go: a slug made from scratch
// (`tar czf slug.tgz ./app`), created with its checksum and process
// types, uploaded, released; its web process, a script in app/bin, runs
// from /app and serves through the router. The import keeps reporting
// the uploaded archive's checksum, the released slug's blob is the
// archive hako stored (its files at the root) with the checksum it
// reports, and a Heroku-shaped archive that climbs out of app/ is refused
// at upload.
func TestHerokuSlugFromScratch(t *testing.T) {
	need(t, "python3", "tar")
	s := startServer(t)
	h := herokuService(t, s)
	ctx := context.Background()
	name := "scratch"
	if _, err := h.AppCreate(ctx, heroku.AppCreateOpts{Name: &name}); err != nil {
		t.Fatal(err)
	}

	// The slug, as the documentation makes it.
	work := t.TempDir()
	const page = "hello from a slug made from scratch\n"
	for path, data := range map[string]string{
		"app/bin/web":           "#!/bin/sh\ncd public && exec python3 -m http.server \"$PORT\"\n",
		"app/pages/hello.html":  page,
		"app/public/.keep":      "",
		"app/public/about.html": "about\n",
	} {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(path, "app/bin/") {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Join(work, filepath.Dir(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, path), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../pages/hello.html", filepath.Join(work, "app/public/index.html")); err != nil {
		t.Fatal(err)
	}
	slug := tarHerokuSlug(t, work)
	sum := sha256.Sum256(slug)
	checksum := "SHA256:" + hex.EncodeToString(sum[:])

	imp, err := h.SlugCreate(ctx, name, heroku.SlugCreateOpts{ProcessTypes: map[string]string{"web": "bin/web"}, Checksum: &checksum})
	if err != nil {
		t.Fatal(err)
	}
	putBlob(t, imp.Blob.URL, slug)
	rel, err := h.ReleaseCreate(ctx, name, heroku.ReleaseCreateOpts{Slug: imp.ID})
	if err != nil {
		t.Fatal(err)
	}
	var body string
	waitFor(t, 30*time.Second, name+" to serve its page", func() bool {
		code, b, err := s.get(name, "/")
		body = b
		return err == nil && code == 200 && b == page
	}, func() string { return body })
	if code, b, _ := s.get(name, "/about.html"); code != 200 || b != "about\n" {
		t.Errorf("GET /about.html = %d %q", code, b)
	}

	// The import reports what was uploaded; the release's slug what it
	// stored and serves.
	got, err := h.SlugInfo(ctx, name, imp.ID)
	if err != nil || got.Checksum == nil || *got.Checksum != checksum {
		t.Errorf("the import's checksum: %v %v, want %s", err, got, checksum)
	}
	if rel.Slug == nil {
		t.Fatal("the release has no slug")
	}
	stored, err := h.SlugInfo(ctx, name, rel.Slug.ID)
	if err != nil || stored.Checksum == nil {
		t.Fatalf("the release's slug: %v %v", err, stored)
	}
	blob := []byte(fetchURL(t, stored.Blob.URL))
	bsum := sha256.Sum256(blob)
	if want := "SHA256:" + hex.EncodeToString(bsum[:]); *stored.Checksum != want || *stored.Size != len(blob) {
		t.Errorf("the stored slug reports %s, %d bytes; its blob is %s, %d", *stored.Checksum, *stored.Size, want, len(blob))
	}
	cmd := exec.Command("tar", "tzf", "-")
	cmd.Stdin = bytes.NewReader(blob)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Fields(string(out))
	for _, want := range []string{"bin/web", "public/index.html", "pages/hello.html"} {
		if !slices.Contains(list, want) {
			t.Errorf("the stored slug lists %v, without %s", list, want)
		}
	}
	for _, l := range list {
		if strings.HasPrefix(l, "app/") || strings.HasPrefix(l, "./app") {
			t.Errorf("the stored slug still holds %s", l)
		}
	}

	// A Heroku-shaped archive climbing out of app/ is refused, and the
	// import has no archive to release.
	if err := os.WriteFile(filepath.Join(work, "evil"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command("tar", "czf", "evil.tgz", "./app", "--transform", "s|^\\./evil$|./app/../evil|", "./evil")
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	evil, err := os.ReadFile(filepath.Join(work, "evil.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := h.SlugCreate(ctx, name, heroku.SlugCreateOpts{ProcessTypes: map[string]string{"web": "bin/web"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", bad.Blob.URL, bytes.NewReader(evil))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var refusal struct{ ID, Message string }
	err = json.NewDecoder(resp.Body).Decode(&refusal)
	resp.Body.Close()
	if want := `The slug is not a usable tar.gz: entry "./app/../evil": names with ".." are refused`; err != nil ||
		resp.StatusCode != 422 || refusal.ID != "invalid_params" || refusal.Message != want {
		t.Errorf("PUT of a climbing slug = %d %+v %v, want 422 invalid_params %s", resp.StatusCode, refusal, err, want)
	}
	if _, err := h.ReleaseCreate(ctx, name, heroku.ReleaseCreateOpts{Slug: bad.ID}); err == nil {
		t.Error("the refused slug was released")
	}
	if code, b, _ := s.get(name, "/"); code != 200 || b != page {
		t.Errorf("after the refused slug: GET / = %d %q", code, b)
	}
}

// tarHerokuSlug makes a slug of work/app as Heroku's documentation does
// (`tar czf slug.tgz ./app`) and returns it.
func tarHerokuSlug(t *testing.T, work string) []byte {
	t.Helper()
	cmd := exec.Command("tar", "czf", "slug.tgz", "./app")
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	slug, err := os.ReadFile(filepath.Join(work, "slug.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	return slug
}
