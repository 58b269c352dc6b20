package api

import (
	"testing"

	"hako/engine"
)

// TestReviewAppsFollowParentsCollaborators: a review app holds its
// parent's config vars (and maybe a copy of its database), so a
// collaborator taken off the parent loses its review apps too, and one
// added to the parent gets them.
func TestReviewAppsFollowParentsCollaborators(t *testing.T) {
	w := newAuthzWorld(t)
	w.must(t, roleOwner, "POST", "/apps", `{"name":"shared-feat"}`)
	w.must(t, roleOwner, "POST", "/apps/shared-feat/collaborators", `{"user":"collaborator@example.test"}`)
	rs := w.s.Engine.Store.(engine.ReviewStore)
	if err := rs.PutReviewApp(&engine.ReviewApp{Name: "shared-feat", Parent: "shared", Branch: "feat"}); err != nil {
		t.Fatal(err)
	}
	if status, _ := w.call(roleCollab, "GET", "/apps/shared-feat", ""); status != 200 {
		t.Fatalf("the collaborator's review app = %d, want 200", status)
	}
	w.must(t, roleOwner, "DELETE", "/apps/shared/collaborators/collaborator@example.test", "")
	if status, out := w.call(roleCollab, "GET", "/apps/shared-feat/config-vars", ""); status != 403 {
		t.Errorf("a collaborator taken off the parent reads its review app's config: %d %s", status, out)
	}
	w.must(t, roleOwner, "POST", "/apps/shared/collaborators", `{"user":"stranger@example.test"}`)
	if status, out := w.call(roleStranger, "GET", "/apps/shared-feat", ""); status != 200 {
		t.Errorf("a collaborator added to the parent, on its review app: %d %s", status, out)
	}
}
