package api

import "testing"

// TestOnlyOwnerRenames: as on Heroku, a collaborator may change an app
// but not rename it (nor take its old name for an app of their own to
// catch the owner's pushes); the owner and an administrator may.
func TestOnlyOwnerRenames(t *testing.T) {
	w := newAuthzWorld(t)
	for _, c := range []struct {
		role, path, body string
		status           int
	}{
		{roleCollab, "/apps/shared", `{"name":"grabbed"}`, 403},
		{roleCollab, "/apps/shared", `{"name":"shared"}`, 200},
		{roleCollab, "/apps/shared", `{"maintenance":true}`, 200},
		{roleStranger, "/apps/shared", `{"name":"grabbed"}`, 403},
		{roleOwner, "/apps/shared", `{"name":"renamed"}`, 200},
		{roleAdmin, "/apps/renamed", `{"name":"shared"}`, 200},
	} {
		if status, out := w.call(c.role, "PATCH", c.path, c.body); status != c.status {
			t.Errorf("%s PATCH %s %s = %d %s, want %d", c.role, c.path, c.body, status, out, c.status)
		}
	}
	if status, _ := w.call(roleOwner, "GET", "/apps/grabbed", ""); status != 404 {
		t.Errorf("the collaborator's rename happened: GET /apps/grabbed = %d", status)
	}
}
