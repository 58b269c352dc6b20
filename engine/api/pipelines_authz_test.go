package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// names reads the "name" (or "app"."name") of each object of a JSON list.
func names(t *testing.T, out string) []string {
	t.Helper()
	var list []struct {
		Name string `json:"name"`
		App  struct {
			Name string `json:"name"`
		} `json:"app"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var got []string
	for _, v := range list {
		got = append(got, v.Name+v.App.Name)
	}
	slices.Sort(got)
	return got
}

// TestPipelinesOfMembers: each member sees the pipelines they own or
// reach through an app, and only the couplings of apps they may access;
// coupling another member's app, or an app into another member's
// pipeline, is refused with Heroku's 403 and changes nothing.
func TestPipelinesOfMembers(t *testing.T) {
	w := newAuthzWorld(t)
	w.must(t, roleStranger, "POST", "/apps", `{"name":"strangers-own"}`)
	w.must(t, roleStranger, "POST", "/pipelines", `{"name":"theirs"}`)
	w.must(t, roleStranger, "POST", "/pipeline-couplings", `{"app":"strangers-own","pipeline":"theirs","stage":"production"}`)

	for role, want := range map[string][]string{
		roleOwner: {"flow"}, roleCollab: {"flow"}, roleStranger: {"theirs"}, roleAdmin: {"flow", "theirs"},
	} {
		if got := names(t, w.must(t, role, "GET", "/pipelines", "")); !slices.Equal(got, want) {
			t.Errorf("GET /pipelines as %s = %q, want %q", role, got, want)
		}
	}
	for role, want := range map[string][]string{
		roleOwner: {"shared"}, roleCollab: {"shared"}, roleStranger: {"strangers-own"}, roleAdmin: {"shared", "strangers-own"},
	} {
		for _, path := range []string{"/pipeline-couplings", "/users/~/pipeline-couplings"} {
			if got := names(t, w.must(t, role, "GET", path, "")); !slices.Equal(got, want) {
				t.Errorf("GET %s as %s = %q, want %q", path, role, got, want)
			}
		}
	}

	refusals := []struct{ role, body, want string }{
		{roleOwner, `{"app":"strangers-own","pipeline":"flow","stage":"production"}`, "You do not have access to the app strangers-own."},
		{roleOwner, `{"app":"shared","pipeline":"theirs","stage":"staging"}`, "You do not have access to the pipeline theirs."},
		{roleStranger, `{"app":"shared","pipeline":"theirs","stage":"staging"}`, "You do not have access to the app shared."},
	}
	for _, c := range refusals {
		status, out := w.call(c.role, "POST", "/pipeline-couplings", c.body)
		var e struct{ ID, Message string }
		json.Unmarshal([]byte(out), &e)
		if status != http.StatusForbidden || e.ID != "forbidden" || e.Message != c.want {
			t.Errorf("%s couples %s = %d %s, want 403 %q", c.role, c.body, status, out, c.want)
		}
	}
	if got := names(t, w.must(t, roleAdmin, "GET", "/pipelines/flow/pipeline-couplings", "")); !slices.Equal(got, []string{"shared"}) {
		t.Errorf("flow holds %q after the refusals", got)
	}
	if got := names(t, w.must(t, roleAdmin, "GET", "/pipelines/theirs/pipeline-couplings", "")); !slices.Equal(got, []string{"strangers-own"}) {
		t.Errorf("theirs holds %q after the refusals", got)
	}

	// GET /users/~ is the caller's account; another's is for administrators.
	var me struct{ Email string }
	json.Unmarshal([]byte(w.must(t, roleStranger, "GET", "/users/~", "")), &me)
	if me.Email != "stranger@example.test" {
		t.Errorf("GET /users/~ as the stranger = %q", me.Email)
	}
	if status, out := w.call(roleStranger, "GET", "/users/owner@example.test", ""); status != http.StatusForbidden {
		t.Errorf("the stranger read the owner's account: %d %s", status, out)
	}
	json.Unmarshal([]byte(w.must(t, roleAdmin, "GET", "/users/owner@example.test", "")), &me)
	if me.Email != "owner@example.test" {
		t.Errorf("GET /users/owner@example.test as admin = %q", me.Email)
	}
}
