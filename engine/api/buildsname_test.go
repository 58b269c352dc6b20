package api

import (
	"encoding/json"
	"strings"
	"testing"

	"hako/engine"
)

// TestBuildsOfDestroyedAppNotInherited: builds are kept by the app's id;
// a stranger who makes an app of a destroyed app's name must find
// none of its builds (their source URL and output are that app's).
func TestBuildsOfDestroyedAppNotInherited(t *testing.T) {
	w := newAuthzWorld(t)
	var app struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(w.must(t, roleOwner, "POST", "/apps", `{"name":"doomed"}`)), &app); err != nil {
		t.Fatal(err)
	}
	b, err := w.s.Engine.NewBuild("doomed", engine.BuildSource{URL: "http://example.test/source-blobs/owners-secret"}, "owner@example.test")
	if err != nil {
		t.Fatal(err)
	}
	if out := w.must(t, roleOwner, "GET", "/apps/doomed/builds", ""); !strings.Contains(out, "owners-secret") {
		t.Fatalf("the owner's builds: %s", out)
	}
	w.must(t, roleOwner, "DELETE", "/apps/doomed", "")
	w.must(t, roleStranger, "POST", "/apps", `{"name":"doomed"}`)
	if out := w.must(t, roleStranger, "GET", "/apps/doomed/builds", ""); strings.TrimSpace(out) != "[]" {
		t.Errorf("the stranger's new app lists the destroyed app's builds: %s", out)
	}
	if status, out := w.call(roleStranger, "GET", "/apps/doomed/builds/"+b.ID, ""); status != 404 {
		t.Errorf("the stranger's new app finds the destroyed app's build: %d %s", status, out)
	}
}
