package api

import "testing"

// TestUploadBudgetsPerUser: the sources and slug imports waiting for
// their upload are bounded per user, so that a stranger who makes as many
// as they may still leaves the owner of another app room to build and
// import; past their own bound, the stranger is refused and says so.
func TestUploadBudgetsPerUser(t *testing.T) {
	w := newAuthzWorld(t)
	w.s.Engine.Paths.Slugs = t.TempDir()
	w.must(t, roleStranger, "POST", "/apps", `{"name":"strangers-own"}`)
	for _, c := range []struct{ name, path, body string }{
		{"sources", "/sources", ""},
		{"slug imports", "/apps/strangers-own/slugs", `{"process_types":{"web":"./web"}}`},
	} {
		for i := range maxPendingPerUser {
			if status, out := w.call(roleStranger, "POST", c.path, c.body); status != 201 {
				t.Fatalf("%s: the stranger's %d. = %d %s", c.name, i+1, status, out)
			}
		}
		if status, out := w.call(roleStranger, "POST", c.path, c.body); status != 422 {
			t.Errorf("%s: the stranger's %d. = %d %s, want 422", c.name, maxPendingPerUser+1, status, out)
		}
		path := c.path
		if path != "/sources" {
			path = "/apps/shared/slugs"
		}
		if status, out := w.call(roleOwner, "POST", path, c.body); status != 201 {
			t.Errorf("%s: the owner, after the stranger's %d: %d %s, want 201", c.name, maxPendingPerUser, status, out)
		}
	}
}
