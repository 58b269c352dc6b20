package api

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestNoEscapesInPrintedText: the free text a collaborator gives that
// `hako releases` and `hako builds` print as it is (a release's
// description, an imported slug's commit and descriptions, a build's
// version) is refused with control characters, so that no escape
// sequence reaches the owner's terminal.
func TestNoEscapesInPrintedText(t *testing.T) {
	w := newAuthzWorld(t)
	w.s.Engine.Paths.Slugs = t.TempDir()
	for _, c := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"SlugCommitPlain", "POST", "/apps/shared/slugs", `{"process_types":{"web":"./web"},"commit":"0123abc"}`, 201},
		{"SlugCommitEscape", "POST", "/apps/shared/slugs", `{"process_types":{"web":"./web"},"commit":"\u001b[2J"}`, 422},
		{"SlugCommitDescriptionEscape", "POST", "/apps/shared/slugs", `{"process_types":{"web":"./web"},"commit_description":"ok\u001b]52;c;aGk=\u0007"}`, 422},
		{"SlugBuildpackDescriptionNewline", "POST", "/apps/shared/slugs", `{"process_types":{"web":"./web"},"buildpack_provided_description":"Go\nv2 Deploy by someone else"}`, 422},
		{"ReleaseDescriptionEscape", "POST", "/apps/shared/releases", `{"slug":"` + "0b7a3bb4-6d4d-4e83-9d23-000000000000" + `","description":"\u001b[1A\u001b[2KDeploy"}`, 422},
	} {
		if status, out := w.call(roleCollab, c.method, c.path, c.body); status != c.status {
			t.Errorf("%s: %s %s = %d %s, want %d", c.name, c.method, c.path, status, out, c.status)
		}
	}
	req := httptest.NewRequest("POST", "/apps/shared/builds", strings.NewReader(`{"source_blob":{"url":"http://x/source-blobs/y","version":"\u001b[31m"}}`))
	req.Header.Set("Authorization", "Bearer "+w.tokens[roleCollab])
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	if rec.Code != 422 || !strings.Contains(rec.Body.String(), "without control characters") {
		t.Errorf("BuildVersionEscape: %d %s, want 422", rec.Code, rec.Body)
	}
}
