package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestBuildsOfDestroyedAppNotInherited: builds are kept in memory by app
// name; a stranger who makes an app of a destroyed app's name must find
// none of its builds (their source URL and output are that app's).
func TestBuildsOfDestroyedAppNotInherited(t *testing.T) {
	w := newAuthzWorld(t)
	var app struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(w.must(t, roleOwner, "POST", "/apps", `{"name":"doomed"}`)), &app); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	w.s.builds.add(&build{id: "0b7a3bb4-6d4d-4e83-9d23-00000000b11d", secret: secret(), app: "doomed", appID: app.ID, user: "owner@example.test",
		srcURL: "http://example.test/source-blobs/owners-secret", created: now, updated: now, status: "succeeded", changed: make(chan struct{})})
	if out := w.must(t, roleOwner, "GET", "/apps/doomed/builds", ""); !strings.Contains(out, "owners-secret") {
		t.Fatalf("the owner's builds: %s", out)
	}
	w.must(t, roleOwner, "DELETE", "/apps/doomed", "")
	w.must(t, roleStranger, "POST", "/apps", `{"name":"doomed"}`)
	if out := w.must(t, roleStranger, "GET", "/apps/doomed/builds", ""); strings.TrimSpace(out) != "[]" {
		t.Errorf("the stranger's new app lists the destroyed app's builds: %s", out)
	}
	if status, out := w.call(roleStranger, "GET", "/apps/doomed/builds/0b7a3bb4-6d4d-4e83-9d23-00000000b11d", ""); status != 404 {
		t.Errorf("the stranger's new app finds the destroyed app's build: %d %s", status, out)
	}
}
