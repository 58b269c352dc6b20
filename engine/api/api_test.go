package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
	"hako/engine/logs"
	"hako/store"
)

func newAPI(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := engine.New(engine.Parts{Store: st})
	srv := httptest.NewServer((&Server{Engine: e, Token: "secret", User: "admin", Logs: &logs.Buffer{}}).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPI(t *testing.T) {
	srv := newAPI(t)
	cases := []struct {
		name, method, path, token, body string
		status                          int
		want                            string
	}{
		{"no token", "GET", "/apps", "", "", 401, `"id": "unauthorized"`},
		{"wrong token", "GET", "/apps", "nope", "", 401, `"id": "unauthorized"`},
		{"create", "POST", "/apps", "secret", `{"name":"my-app"}`, 201, `"name": "my-app"`},
		{"create taken", "POST", "/apps", "secret", `{"name":"my-app"}`, 409, `"id": "conflict"`},
		{"create invalid", "POST", "/apps", "secret", `{"name":"../x"}`, 422, `"id": "invalid_params"`},
		{"bad json", "POST", "/apps", "secret", `{`, 422, "not valid JSON"},
		{"get", "GET", "/apps/my-app", "secret", "", 200, `"current_release": 1`},
		{"get missing", "GET", "/apps/ghost", "secret", "", 404, `"id": "not_found"`},
		{"get invalid", "GET", "/apps/Bad..Name", "secret", "", 422, "is invalid"},
		{"set config", "PATCH", "/apps/my-app/config-vars", "secret", `{"A":"1","B":"x y"}`, 200, `"B": "x y"`},
		{"unset config", "PATCH", "/apps/my-app/config-vars", "secret", `{"A":null}`, 200, `"B": "x y"`},
		{"1 MB value", "PATCH", "/apps/my-app/config-vars", "secret", `{"BIG":"` + strings.Repeat("x", 1<<20) + `"}`, 422, "the limit is 32768 (32 KB)"},
		{"unset missing", "PATCH", "/apps/my-app/config-vars", "secret", `{"A":null}`, 422, "is not set"},
		{"release", "GET", "/apps/my-app/releases/v3", "secret", "", 200, `"description": "Remove A config vars"`},
		{"release current", "GET", "/apps/my-app/releases/current", "secret", "", 200, `"version": 3`},
		{"release bad", "GET", "/apps/my-app/releases/x", "secret", "", 422, "not a release version"},
		{"rollback no slug", "POST", "/apps/my-app/releases", "secret", `{"release":"v1"}`, 422, "no slug"},
		{"rollback by id", "POST", "/apps/my-app/releases", "secret", `{"release":"my-app-v1"}`, 422, "no slug"},
		{"scale before deploy", "PATCH", "/apps/my-app/formation", "secret", `{"updates":[{"type":"web","quantity":1}]}`, 422, "deploy it first"},
		{"scale quantity as a string", "PATCH", "/apps/my-app/formation", "secret", `{"updates":[{"type":"web","quantity":"1"}]}`, 422, "deploy it first"},
		{"scale quantity not a number", "PATCH", "/apps/my-app/formation", "secret", `{"updates":[{"type":"web","quantity":"x"}]}`, 422, "not a number of dynos"},
		{"account", "GET", "/account", "secret", "", 200, `"email": "admin"`},
		{"user's apps", "GET", "/users/~/apps", "secret", "", 200, `"owner"`},
		{"set buildpacks", "PUT", "/apps/my-app/buildpack-installations", "secret", `{"updates":[{"buildpack":"heroku/go"}]}`, 200, `"url": "heroku/go"`},
		{"list buildpacks", "GET", "/apps/my-app/buildpack-installations", "secret", "", 200, `"ordinal": 0`},
		{"buildpack path", "PUT", "/apps/my-app/buildpack-installations", "secret", `{"updates":[{"buildpack":"/etc"}]}`, 422, "is invalid"},
		{"unknown path", "GET", "/nothing", "secret", "", 404, "No such API path"},
		{"destroy", "DELETE", "/apps/my-app", "secret", "", 200, `"name": "my-app"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := call(t, srv, c.method, c.path, c.token, c.body)
			if status != c.status || !strings.Contains(body, c.want) {
				t.Errorf("%s %s = %d %s, want %d with %q", c.method, c.path, status, body, c.status, c.want)
			}
		})
	}
}

func TestAppByID(t *testing.T) {
	srv := newAPI(t)
	_, body := call(t, srv, "POST", "/apps", "secret", `{"name":"by-id"}`)
	var a AppView
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if status, body := call(t, srv, "GET", "/apps/"+a.ID+"/config-vars", "secret", ""); status != 200 {
		t.Errorf("config-vars by app id = %d %s", status, body)
	}
	if status, _ := call(t, srv, "GET", "/apps/00000000-0000-4000-8000-00000000beef", "secret", ""); status != 404 {
		t.Errorf("unknown app id = %d, want 404", status)
	}
}

func TestReleasesRange(t *testing.T) {
	srv := newAPI(t)
	call(t, srv, "POST", "/apps", "secret", `{"name":"my-app"}`)
	for _, kv := range []string{`{"A":"1"}`, `{"B":"2"}`} {
		call(t, srv, "PATCH", "/apps/my-app/config-vars", "secret", kv)
	}
	versions := func(hdr ...string) []int {
		_, body := call(t, srv, "GET", "/apps/my-app/releases", "secret", "", hdr...)
		var rels []ReleaseView
		if err := json.Unmarshal([]byte(body), &rels); err != nil {
			t.Fatal(err)
		}
		var vs []int
		for _, r := range rels {
			vs = append(vs, r.Version)
		}
		return vs
	}
	if got := versions(); len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Errorf("default order = %v, want oldest first", got)
	}
	if got := versions("Range", "version ..; order=desc, max=2"); len(got) != 2 || got[0] != 3 || got[1] != 2 {
		t.Errorf("desc max=2 = %v, want [3 2]", got)
	}
}
