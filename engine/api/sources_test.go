package api

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
	"hako/engine/logs"
	"hako/store"
)

// TestSourcesBounded checks the blob URLs of POST /sources: an upload
// past the source limit is refused and leaves nothing, a build names only
// a source this server hosts, and the URLs of one source do not open
// another's.
func TestSourcesBounded(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := engine.New(engine.Parts{Store: st, Limits: engine.BuildLimits{SourceBytes: 16}})
	srv := httptest.NewServer((&Server{Engine: e, Token: "secret", Logs: &logs.Buffer{}}).Handler())
	t.Cleanup(srv.Close)
	if status, body := call(t, srv, "POST", "/apps", "secret", `{"name":"web"}`); status != 201 {
		t.Fatalf("create app: %d %s", status, body)
	}
	status, body := call(t, srv, "POST", "/sources", "secret", "")
	var src struct {
		SourceBlob struct {
			GetURL string `json:"get_url"`
			PutURL string `json:"put_url"`
		} `json:"source_blob"`
	}
	if status != 201 || json.Unmarshal([]byte(body), &src) != nil || !strings.HasPrefix(src.SourceBlob.PutURL, srv.URL+"/source-blobs/") {
		t.Fatalf("POST /sources = %d %s", status, body)
	}
	path := strings.TrimPrefix(src.SourceBlob.PutURL, srv.URL)
	for _, c := range []struct {
		name, method, path, token, body, ctype string
		status                                 int
		want                                   string
	}{
		{"GetBeforeUpload", "GET", path, "", "", "", 404, `"not_found"`},
		{"PutTooLarge", "PUT", path, "", strings.Repeat("x", 17), "", 422, "larger than this server allows"},
		{"GetAfterRefusedPut", "GET", path, "", "", "", 404, `"not_found"`},
		{"PutUnknown", "PUT", "/source-blobs/feed", "", "x", "", 404, `"not_found"`},
		{"BuildOfUnuploaded", "POST", "/apps/web/builds", "secret", `{"source_blob":{"url":"` + src.SourceBlob.GetURL + `"}}`, "application/json", 422, "no upload yet"},
		{"BuildOfElsewhere", "POST", "/apps/web/builds", "secret", `{"source_blob":{"url":"http://198.51.100.1/app.tgz"}}`, "application/json", 422, "fetches no other URL"},
		{"BuildOfUnknownSource", "POST", "/apps/web/builds", "secret", `{"source_blob":{"url":"` + srv.URL + `/source-blobs/feed"}}`, "application/json", 422, "unknown or has expired"},
		{"BuildUnknownApp", "POST", "/apps/nope/builds", "secret", `{"source_blob":{"url":"` + src.SourceBlob.GetURL + `"}}`, "application/json", 404, `"not_found"`},
		{"PutFits", "PUT", path, "", "0123456789abcdef", "", 200, ""},
		{"GetUploaded", "GET", path, "", "", "", 200, "0123456789abcdef"},
		{"BuildsEmpty", "GET", "/apps/web/builds", "secret", "", "", 200, "[]"},
	} {
		hdr := []string{}
		if c.ctype != "" {
			hdr = append(hdr, "Content-Type", c.ctype)
		}
		status, body := call(t, srv, c.method, c.path, c.token, c.body, hdr...)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %s %s = %d %s, want %d with %q", c.name, c.method, c.path, status, body, c.status, c.want)
		}
	}
}
