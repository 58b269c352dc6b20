package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
	"hako/engine/logs"
	"hako/store"
)

// A world for the authorization tests: the app "shared", owned by
// owner@example.test and shared with collab@example.test;
// stranger@example.test has an account and nothing else; the
// administrator holds "secret". The owner's pipeline "flow" holds
// "shared" at staging, and a promotion from it is on record.
type authzWorld struct {
	h      http.Handler
	s      *Server
	tokens map[string]string // by role
}

const (
	roleOwner    = "owner"
	roleCollab   = "collaborator"
	roleStranger = "stranger"
	roleAdmin    = "admin"
)

var roles = []string{roleOwner, roleCollab, roleStranger, roleAdmin}

func newAuthzWorld(t *testing.T) *authzWorld {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := engine.New(engine.Parts{Store: st, ParseKey: func(text string) (*engine.Key, error) {
		return &engine.Key{Fingerprint: "SHA256:" + text, PublicKey: text}, nil
	}})
	s := &Server{Engine: e, Token: "secret", Logs: &logs.Buffer{}, Logf: t.Logf}
	w := &authzWorld{h: s.Handler(), s: s, tokens: map[string]string{roleAdmin: "secret"}}
	for _, role := range []string{roleOwner, roleCollab, roleStranger} {
		email := role + "@example.test"
		if _, err := e.AddUser(email, false); err != nil {
			t.Fatal(err)
		}
		tok, _, err := e.CreateToken(email, "test")
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[role] = tok
	}
	w.must(t, roleOwner, "POST", "/apps", `{"name":"shared"}`)
	w.must(t, roleOwner, "POST", "/apps/shared/collaborators", `{"user":"collaborator@example.test"}`)
	w.must(t, roleOwner, "POST", "/pipelines", `{"name":"flow"}`)
	w.must(t, roleOwner, "POST", "/pipeline-couplings", `{"app":"shared","pipeline":"flow","stage":"staging"}`)
	if err := st.PutPromotion(&engine.PipelinePromotion{ID: promotionID, SourceApp: "shared", Status: "completed"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// call sends a request as role; a handler that panics (the engine here
// has no builder nor supervisor) answers 500, past the check.
func (w *authzWorld) call(role, method, path, body string) (status int, out string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+w.tokens[role])
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != nil {
				rec.Code, rec.Body = 500, nil
			}
		}()
		w.h.ServeHTTP(rec, req)
	}()
	if rec.Body != nil {
		out = rec.Body.String()
	}
	return rec.Code, out
}

func (w *authzWorld) must(t *testing.T, role, method, path, body string) string {
	t.Helper()
	status, out := w.call(role, method, path, body)
	if status >= 300 {
		t.Fatalf("%s %s %s = %d %s", role, method, path, status, out)
	}
	return out
}

// promotionID is the promotion from "shared" the world records.
const promotionID = "0b0e0e0e-0000-4000-8000-000000000001"

// concrete turns a route's pattern into a request on the shared app.
func concrete(pattern string) (method, path, body string) {
	method, path, _ = strings.Cut(pattern, " ")
	if path == "" { // "/": any method
		method, path = "GET", "/nothing"
	}
	if strings.HasPrefix(path, "/pipeline-promotions/{id}") {
		path = strings.Replace(path, "{id}", promotionID, 1)
	}
	path = strings.NewReplacer("{app}", "shared", "{user}", "~", "{email}", "collaborator@example.test", "{drain...}", "x",
		"{pipeline}", "flow", "{coupling}", "shared").Replace(path)
	for strings.Contains(path, "{") {
		i, j := strings.Index(path, "{"), strings.Index(path, "}")
		path = path[:i] + "x" + path[j+1:]
	}
	switch pattern {
	case "POST /actions/addons/resolve":
		body = `{"app":"shared","addon":"x"}`
	case "POST /actions/addon-attachments/resolve":
		body = `{"app":"shared","addon_attachment":"x"}`
	case "POST /pipelines":
		body = `{"name":"another"}`
	case "POST /pipeline-couplings":
		body = `{"app":"shared","pipeline":"flow","stage":"production"}`
	case "PATCH /pipeline-couplings/{coupling}":
		body = `{"stage":"production"}`
	case "POST /pipeline-promotions":
		body = `{"source":{"app":{"id":"shared"}}}`
	}
	return method, path, body
}

// Routes whose rule is written out here again, apart from authz.go's
// tables, so that loosening one there fails this test.
var (
	wantOwnerOnly = map[string]bool{
		"DELETE /apps/{app}":                       true,
		"POST /apps/{app}/collaborators":           true,
		"DELETE /apps/{app}/collaborators/{email}": true,
	}
	// wantPipelineMember are the routes on the pipeline "flow" or its
	// coupling and promotion of "shared": the owner and the collaborator
	// (through "shared") may, the stranger may not.
	wantPipelineMember = map[string]bool{
		"GET /pipelines/{pipeline}": true, "GET /pipelines/{pipeline}/pipeline-couplings": true,
		"POST /pipeline-couplings": true, "GET /pipeline-couplings/{coupling}": true,
		"PATCH /pipeline-couplings/{coupling}": true, "DELETE /pipeline-couplings/{coupling}": true,
		"POST /pipeline-promotions": true, "GET /pipeline-promotions/{id}": true,
		"GET /pipeline-promotions/{id}/promotion-targets": true,
	}
	// wantPipelineOwner: only the pipeline's owner (and administrators).
	wantPipelineOwner = map[string]bool{"DELETE /pipelines/{pipeline}": true}
	wantAdminOnly     = map[string]bool{
		"GET /status": true, "GET /users": true, "POST /users": true, "DELETE /users/{user}": true,
		"POST /workshop/seed": true, "POST /workshop/reset": true,
	}
)

// want is what role may do on a route: "forbidden", or "allowed"
// (anything but 403).
func want(pattern, role string) string {
	switch {
	case role == roleAdmin:
		return "allowed"
	case wantAdminOnly[pattern]:
		return "forbidden"
	case wantPipelineOwner[pattern]:
		if role != roleOwner {
			return "forbidden"
		}
		return "allowed"
	case wantPipelineMember[pattern]:
		if role == roleStranger {
			return "forbidden"
		}
		return "allowed"
	case appRoute(pattern) || routeRules[pattern].app != nil || strings.HasPrefix(pattern, "POST /actions/addon"):
		if role == roleStranger || (role == roleCollab && wantOwnerOnly[pattern]) {
			return "forbidden"
		}
		return "allowed"
	case routeRules[pattern].anyUser:
		return "allowed"
	}
	return "forbidden"
}

// TestRouteRules checks that every route of the API has a rule: a route
// under /apps/{app}, or an entry in routeRules. A new route outside
// /apps/{app} fails here until its author says who may call it.
func TestRouteRules(t *testing.T) {
	s := &Server{}
	s.Handler()
	registered := map[string]bool{}
	for _, p := range s.patterns {
		registered[p] = true
		if _, ok := routeRules[p]; !ok && !appRoute(p) {
			t.Errorf("route %q has no rule: add it to routeRules (anyUser, adminOnly, or app) in authz.go", p)
		}
	}
	for p := range routeRules {
		if !registered[p] {
			t.Errorf("routeRules names %q, which is not a route", p)
		}
	}
	for p := range ownerRoutes {
		if !registered[p] || !appRoute(p) {
			t.Errorf("ownerRoutes names %q, which is not a route under /apps/{app}", p)
		}
	}
}

// TestAuthorizationTable calls every route of the API as the owner of an
// app, a collaborator on it, a stranger and an administrator, each on a
// world of its own (a call may destroy the app). A stranger gets
// Heroku's 403 on every route of the app and sees none of it in lists.
func TestAuthorizationTable(t *testing.T) {
	s := &Server{}
	s.Handler()
	if len(s.patterns) < 40 {
		t.Fatalf("only %d routes registered", len(s.patterns))
	}
	forbiddenApp := `{
  "id": "forbidden",
  "message": "You do not have access to the app shared."
}
`
	forbiddenPipeline := `{
  "id": "forbidden",
  "message": "You do not have access to the pipeline flow."
}
`
	for _, pattern := range s.patterns {
		for _, role := range roles {
			t.Run(fmt.Sprintf("%s/%s", pattern, role), func(t *testing.T) {
				t.Parallel() // each world is its own store: they wait on disk, not on each other
				w := newAuthzWorld(t)
				method, path, body := concrete(pattern)
				status, out := w.call(role, method, path, body)
				switch want(pattern, role) {
				case "allowed":
					if status == http.StatusForbidden {
						t.Errorf("%s %s as %s = 403 %s, want it allowed", method, path, role, out)
					}
				case "forbidden":
					if status != http.StatusForbidden {
						t.Fatalf("%s %s as %s = %d %s, want 403", method, path, role, status, out)
					}
					if (appRoute(pattern) || strings.HasPrefix(pattern, "POST /actions/addon")) && out != forbiddenApp {
						t.Errorf("%s %s as %s answered %q, want %q", method, path, role, out, forbiddenApp)
					}
					if (wantPipelineMember[pattern] || wantPipelineOwner[pattern]) && out != forbiddenApp && out != forbiddenPipeline {
						t.Errorf("%s %s as %s answered %q, want %q or %q", method, path, role, out, forbiddenApp, forbiddenPipeline)
					}
				}
			})
		}
	}
}

// TestListsShowOnlyAccessibleApps: lists that span apps show a member
// only their own and shared apps, and an administrator every app.
func TestListsShowOnlyAccessibleApps(t *testing.T) {
	w := newAuthzWorld(t)
	w.must(t, roleStranger, "POST", "/apps", `{"name":"strangers-own"}`)
	for _, path := range []string{"/apps", "/users/~/apps"} {
		for role, wantApps := range map[string]string{
			roleOwner: "shared", roleCollab: "shared", roleStranger: "strangers-own", roleAdmin: "shared strangers-own",
		} {
			var names []string
			for _, line := range strings.Split(w.must(t, role, "GET", path, ""), "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), `"name": "`); ok && strings.HasSuffix(v, `",`) {
					if n := strings.TrimSuffix(v, `",`); n != "shared" && n != "strangers-own" {
						continue // a stack's or region's name
					} else {
						names = append(names, n)
					}
				}
			}
			if got := strings.Join(names, " "); got != wantApps {
				t.Errorf("GET %s as %s lists %q, want %q", path, role, got, wantApps)
			}
		}
	}
}
