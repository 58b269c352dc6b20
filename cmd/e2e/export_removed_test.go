package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestExportRemovedSlug: with --keep-slugs 1, the first of two pushes
// loses its slug; exporting that release fails, in any format, with a
// rollback's explanation (the slug of vN was removed, what the server
// keeps) and writes nothing, the slug's info answers the same, and a blob
// URL signed before the removal says the slug was removed. The current
// release still exports.
func TestExportRemovedSlug(t *testing.T) {
	need(t, "python3")
	s := startServer(t, "--keep-slugs", "1")
	s.hako(t, "apps:create", "gone")
	dir := repo(t, "procfile-app")
	s.pushVersion(t, dir, s.key, "gone", "version 1", 2)
	ids, _ := s.releaseSlugs(t, "gone")
	status, body := s.api(t, "GET", "/apps/gone/slugs/"+ids[2], "")
	var before struct {
		Blob struct {
			URL string `json:"url"`
		} `json:"blob"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &before) != nil || before.Blob.URL == "" {
		t.Fatalf("GET v2's slug = %d %s", status, body)
	}
	s.pushVersion(t, dir, s.key, "gone", "version 2", 3)
	s.waitBody(t, "gone", "version 2")
	ids, removed := s.releaseSlugs(t, "gone")
	if !removed[2] {
		t.Fatal("v2's slug was kept")
	}

	const why = "The slug of v2 of gone was removed: this server keeps the slugs of each app's last 1 deploys and of its current release (--keep-slugs). Deploy that code again to export it."
	for _, format := range []string{"oci", "compose"} {
		out := filepath.Join(t.TempDir(), "out")
		got, err := s.run("export", "-a", "gone", "--release", "v2", "--format", format, "--out", out)
		if err == nil || !hasLine(got, " ▸    "+why) {
			t.Errorf("export --format %s of v2: %v\n%s", format, err, got)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("export --format %s of v2 wrote %s: %v", format, out, err)
		}
	}
	status, body = s.api(t, "GET", "/apps/gone/slugs/"+ids[2], "")
	var e struct{ ID, Message string }
	if json.Unmarshal([]byte(body), &e) != nil || status != 404 || e.ID != "not_found" || e.Message != why {
		t.Errorf("GET v2's slug after its removal = %d %s", status, body)
	}
	resp, err := http.Get(before.Blob.URL)
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if want := "That slug was removed: this server keeps the slugs of each app's last 1 deploys and of its current release (--keep-slugs). Deploy that code again to export it."; err != nil ||
		resp.StatusCode != 404 || e.ID != "not_found" || e.Message != want {
		t.Errorf("GET of v2's slug blob after its removal = %d %+v %v, want 404 not_found %s", resp.StatusCode, e, err, want)
	}

	// A slug never recorded is still just not found.
	unknown := ids[3][:60] + "0000"
	status, body = s.api(t, "GET", "/apps/gone/slugs/"+unknown, "")
	if json.Unmarshal([]byte(body), &e) != nil || status != 404 || e.Message != "Couldn't find that slug: "+ids[3][:60]+"0000." {
		t.Errorf("GET of an unknown slug = %d %s", status, body)
	}
	out := filepath.Join(t.TempDir(), "out")
	s.hako(t, "export", "-a", "gone", "--format", "compose", "--out", out)
	if _, err := os.Stat(out); err != nil {
		t.Errorf("export of the current release wrote nothing: %v", err)
	}
}
