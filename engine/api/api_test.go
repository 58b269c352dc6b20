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
	srv := httptest.NewServer((&Server{Engine: e, Token: "secret", Logs: &logs.Buffer{}}).Handler())
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

// request is one call to the API: a case's set-up, or what it checks.
type request struct{ method, path, body string }

// apiCase is one independent check: on a server of its own, the set-up
// requests run first (each must succeed), then the call whose status and
// body are checked.
type apiCase struct {
	name   string
	setup  []request
	method string
	path   string
	token  string
	body   string
	status int
	want   string // in the body
}

// runAPICases runs each case on a fresh server, so that no case depends
// on what another left behind.
func runAPICases(t *testing.T, cases []apiCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newAPI(t)
			for _, r := range c.setup {
				if status, body := call(t, srv, r.method, r.path, "secret", r.body); status >= 300 {
					t.Fatalf("set-up %s %s = %d %s", r.method, r.path, status, body)
				}
			}
			status, body := call(t, srv, c.method, c.path, c.token, c.body)
			if status != c.status || !strings.Contains(body, c.want) {
				t.Errorf("%s %s = %d %s, want %d with %q", c.method, c.path, status, body, c.status, c.want)
			}
		})
	}
}

// withApp is the set-up of most cases: the app my-app, at v1.
var withApp = []request{{"POST", "/apps", `{"name":"my-app"}`}}

// setup returns withApp followed by more requests.
func setup(more ...request) []request {
	return append(append([]request{}, withApp...), more...)
}

func TestAPIRefusesMissingOrWrongToken(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "no token", method: "GET", path: "/apps", status: 401, want: `"id": "unauthorized"`},
		{name: "wrong token", method: "GET", path: "/apps", token: "nope", status: 401, want: `"id": "unauthorized"`},
	})
}

func TestAPIAppsCreateGetDestroy(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "create", method: "POST", path: "/apps", token: "secret", body: `{"name":"my-app"}`, status: 201, want: `"name": "my-app"`},
		{name: "create taken", setup: withApp, method: "POST", path: "/apps", token: "secret", body: `{"name":"my-app"}`, status: 409, want: `"id": "conflict"`},
		{name: "create invalid", method: "POST", path: "/apps", token: "secret", body: `{"name":"../x"}`, status: 422, want: `"id": "invalid_params"`},
		{name: "bad json", method: "POST", path: "/apps", token: "secret", body: `{`, status: 422, want: "not valid JSON"},
		{name: "get", setup: withApp, method: "GET", path: "/apps/my-app", token: "secret", status: 200, want: `"current_release": 1`},
		{name: "get missing", method: "GET", path: "/apps/ghost", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "get invalid", method: "GET", path: "/apps/Bad..Name", token: "secret", status: 422, want: "is invalid"},
		{name: "destroy", setup: withApp, method: "DELETE", path: "/apps/my-app", token: "secret", status: 200, want: `"name": "my-app"`},
	})
}

func TestAPIConfigVars(t *testing.T) {
	setAB := request{"PATCH", "/apps/my-app/config-vars", `{"A":"1","B":"x y"}`}
	runAPICases(t, []apiCase{
		{name: "set config", setup: withApp, method: "PATCH", path: "/apps/my-app/config-vars", token: "secret", body: `{"A":"1","B":"x y"}`, status: 200, want: `"B": "x y"`},
		{name: "unset config", setup: setup(setAB), method: "PATCH", path: "/apps/my-app/config-vars", token: "secret", body: `{"A":null}`, status: 200, want: `"B": "x y"`},
		{name: "1 MB value", setup: withApp, method: "PATCH", path: "/apps/my-app/config-vars", token: "secret", body: `{"BIG":"` + strings.Repeat("x", 1<<20) + `"}`, status: 422, want: "the limit is 32768 (32 KB)"},
		{name: "unset missing", setup: withApp, method: "PATCH", path: "/apps/my-app/config-vars", token: "secret", body: `{"A":null}`, status: 422, want: "is not set"},
	})
}

func TestAPIReleasesAndRollback(t *testing.T) {
	// v2 sets A and B, v3 removes A.
	twoChanges := setup(
		request{"PATCH", "/apps/my-app/config-vars", `{"A":"1","B":"x y"}`},
		request{"PATCH", "/apps/my-app/config-vars", `{"A":null}`},
	)
	runAPICases(t, []apiCase{
		{name: "release", setup: twoChanges, method: "GET", path: "/apps/my-app/releases/v3", token: "secret", status: 200, want: `"description": "Remove A config vars"`},
		{name: "release current", setup: twoChanges, method: "GET", path: "/apps/my-app/releases/current", token: "secret", status: 200, want: `"version": 3`},
		{name: "release bad", setup: withApp, method: "GET", path: "/apps/my-app/releases/x", token: "secret", status: 422, want: "not a release version"},
		{name: "rollback no slug", setup: twoChanges, method: "POST", path: "/apps/my-app/releases", token: "secret", body: `{"release":"v1"}`, status: 422, want: "no slug"},
		{name: "rollback by id", setup: twoChanges, method: "POST", path: "/apps/my-app/releases", token: "secret", body: `{"release":"my-app-v1"}`, status: 422, want: "no slug"},
	})
}

func TestAPIFormationBeforeDeploy(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "scale before deploy", setup: withApp, method: "PATCH", path: "/apps/my-app/formation", token: "secret", body: `{"updates":[{"type":"web","quantity":1}]}`, status: 422, want: "deploy it first"},
		{name: "scale quantity as a string", setup: withApp, method: "PATCH", path: "/apps/my-app/formation", token: "secret", body: `{"updates":[{"type":"web","quantity":"1"}]}`, status: 422, want: "deploy it first"},
		{name: "scale quantity not a number", setup: withApp, method: "PATCH", path: "/apps/my-app/formation", token: "secret", body: `{"updates":[{"type":"web","quantity":"x"}]}`, status: 422, want: "not a number of dynos"},
	})
}

func TestAPIAccountAndUsersApps(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "account", method: "GET", path: "/account", token: "secret", status: 200, want: `"email": "admin"`},
		{name: "user's apps", setup: withApp, method: "GET", path: "/users/~/apps", token: "secret", status: 200, want: `"owner"`},
	})
}

func TestAPIBuildpackInstallations(t *testing.T) {
	setGo := request{"PUT", "/apps/my-app/buildpack-installations", `{"updates":[{"buildpack":"heroku/go"}]}`}
	runAPICases(t, []apiCase{
		{name: "set buildpacks", setup: withApp, method: "PUT", path: "/apps/my-app/buildpack-installations", token: "secret", body: `{"updates":[{"buildpack":"heroku/go"}]}`, status: 200, want: `"url": "heroku/go"`},
		{name: "list buildpacks", setup: setup(setGo), method: "GET", path: "/apps/my-app/buildpack-installations", token: "secret", status: 200, want: `"ordinal": 0`},
		{name: "buildpack path", setup: withApp, method: "PUT", path: "/apps/my-app/buildpack-installations", token: "secret", body: `{"updates":[{"buildpack":"/etc"}]}`, status: 422, want: "is invalid"},
	})
}

func TestAPIUnknownPath(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "unknown path", method: "GET", path: "/nothing", token: "secret", status: 404, want: "No such API path"},
	})
}

func TestAppAddressedByID(t *testing.T) {
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

func TestReleasesListHonoursRange(t *testing.T) {
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
