package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hako/engine"
)

// TestSlugsOfOtherAppsNotFound: a slug is another app's code, so a user
// without access to its app can neither read it (its info and export
// URL) nor release it in an app of theirs, whether it was built or
// imported; its own app finds it.
func TestSlugsOfOtherAppsNotFound(t *testing.T) {
	w := newAuthzWorld(t)
	w.s.Engine.Paths.Slugs = t.TempDir()
	w.must(t, roleStranger, "POST", "/apps", `{"name":"strangers-own"}`)

	// A slug built for shared, recorded with a release of it.
	built := strings.Repeat("ab", 32)
	if _, err := w.s.Engine.Store.CreateRelease(&engine.Release{App: "shared", Description: "Deploy", Status: engine.ReleaseSucceeded},
		&engine.Slug{ID: built, ProcessTypes: map[string]string{"web": "./web"}}); err != nil {
		t.Fatal(err)
	}
	// And one imported for shared, its archive uploaded.
	var imp struct {
		ID   string `json:"id"`
		Blob struct {
			URL string `json:"url"`
		} `json:"blob"`
	}
	if err := json.Unmarshal([]byte(w.must(t, roleOwner, "POST", "/apps/shared/slugs", `{"process_types":{"web":"./web"}}`)), &imp); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: "web", Mode: 0o755, Size: 2, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("x\n"))
	_ = tw.Close()
	_ = gz.Close()
	req := httptest.NewRequest("PUT", imp.Blob.URL, &buf)
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("PUT blob = %d %s", rec.Code, rec.Body)
	}

	for _, c := range []struct {
		role, method, path, body string
		status                   int
	}{
		{roleOwner, "GET", "/apps/shared/slugs/" + built, "", 200},
		{roleOwner, "GET", "/apps/shared/slugs/" + imp.ID, "", 200},
		{roleStranger, "GET", "/apps/strangers-own/slugs/" + built, "", 404},
		{roleStranger, "GET", "/apps/strangers-own/slugs/" + imp.ID, "", 404},
		{roleStranger, "POST", "/apps/strangers-own/releases", `{"slug":"` + built + `"}`, 404},
		{roleStranger, "POST", "/apps/strangers-own/releases", `{"slug":"` + imp.ID + `"}`, 404},
		{roleStranger, "GET", "/apps/shared/slugs/" + built, "", 403},
	} {
		status, out := w.call(c.role, c.method, c.path, c.body)
		if status != c.status {
			t.Errorf("%s %s %s = %d %s, want %d", c.role, c.method, c.path, status, out, c.status)
		}
	}
	rels := w.must(t, roleStranger, "GET", "/apps/strangers-own/releases", "")
	if strings.Count(rels, `"version"`) != 1 {
		t.Errorf("a refused release changed strangers-own's history:\n%s", rels)
	}
}

// TestSlugImportFollowsAppNotName: a slug import belongs to its app, not
// to its name: a stranger's new app of a destroyed app's name neither
// finds nor releases it, and a renamed app still finds its own.
func TestSlugImportFollowsAppNotName(t *testing.T) {
	w := newAuthzWorld(t)
	w.s.Engine.Paths.Slugs = t.TempDir()
	importFor := func(app string) string {
		var imp struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(w.must(t, roleOwner, "POST", "/apps/"+app+"/slugs", `{"process_types":{"web":"./web"}}`)), &imp); err != nil {
			t.Fatal(err)
		}
		return imp.ID
	}
	w.must(t, roleOwner, "POST", "/apps", `{"name":"doomed"}`)
	doomed := importFor("doomed")
	w.must(t, roleOwner, "DELETE", "/apps/doomed", "")
	w.must(t, roleStranger, "POST", "/apps", `{"name":"doomed"}`)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/apps/doomed/slugs/" + doomed, ""},
		{"POST", "/apps/doomed/releases", `{"slug":"` + doomed + `"}`},
	} {
		if status, out := w.call(roleStranger, c.method, c.path, c.body); status != 404 {
			t.Errorf("the stranger's new app: %s %s = %d %s, want 404", c.method, c.path, status, out)
		}
	}

	shared := importFor("shared")
	w.must(t, roleOwner, "PATCH", "/apps/shared", `{"name":"moved"}`)
	if status, out := w.call(roleOwner, "GET", "/apps/moved/slugs/"+shared, ""); status != 200 {
		t.Errorf("the renamed app's own import: %d %s, want 200", status, out)
	}
}

// TestSlugExportURLExpires: a slug's export URL works until it expires,
// as Heroku's presigned URLs do; neither an expired one nor one whose
// expiry was moved opens the slug.
func TestSlugExportURLExpires(t *testing.T) {
	w := newAuthzWorld(t)
	w.s.Engine.Paths.Slugs = t.TempDir()
	id := strings.Repeat("cd", 32)
	if _, err := w.s.Engine.Store.CreateRelease(&engine.Release{App: "shared", Description: "Deploy", Status: engine.ReleaseSucceeded},
		&engine.Slug{ID: id, ProcessTypes: map[string]string{"web": "./web"}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.s.Engine.Paths.Slugs, id+".tgz"), []byte("the slug"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sl struct {
		Blob struct {
			URL string `json:"url"`
		} `json:"blob"`
	}
	if err := json.Unmarshal([]byte(w.must(t, roleCollab, "GET", "/apps/shared/slugs/"+id, "")), &sl); err != nil {
		t.Fatal(err)
	}
	get := func(u string) (int, string) {
		rec := httptest.NewRecorder()
		w.h.ServeHTTP(rec, httptest.NewRequest("GET", u, nil))
		return rec.Code, rec.Body.String()
	}
	if status, body := get(sl.Blob.URL); status != 200 || body != "the slug" {
		t.Fatalf("the fresh URL: %d %q", status, body)
	}
	u, err := url.Parse(sl.Blob.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("expires", strconv.FormatInt(time.Now().Add(24*time.Hour).Unix(), 10))
	u.RawQuery = q.Encode()
	if status, _ := get(u.String()); status != 404 {
		t.Errorf("a URL whose expiry was moved: %d, want 404", status)
	}
	past := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	if status, _ := get("/slug-blobs/" + id + "?expires=" + past + "&sig=" + w.s.sign("slug", id+"\x00"+past)); status != 404 {
		t.Errorf("an expired URL: %d, want 404", status)
	}
	if status, _ := get("/slug-blobs/" + id + "?sig=" + w.s.sign("slug", id)); status != 404 {
		t.Errorf("a URL without expiry: %d, want 404", status)
	}
}
