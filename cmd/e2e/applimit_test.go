package e2e

import (
	"strings"
	"testing"
)

// TestMaxAppsPerUser: with --max-apps-per-user 2 a member's third app is
// refused in Heroku's words and not made; a branch push that would make
// a review app past its parent's owner's limit makes none and says why;
// a destroyed app frees a place; the administrator has no limit.
func TestMaxAppsPerUser(t *testing.T) {
	need(t, "python3")
	c := newClass(t, "--max-apps-per-user", "2") // owner owns shared
	const limitLine = " ▸    You've reached the limit of 2 apps for members of this server. Delete some apps or ask an administrator to raise --max-apps-per-user."
	c.must(t, "owner", "apps:create", "second")
	out, err := c.ssh("owner", "apps:create", "third")
	if err == nil || !hasLine(out, limitLine) {
		t.Errorf("owner's third app: %v\n%s", err, out)
	}
	if out := c.must(t, "admin", "apps"); strings.Contains(out, "third") {
		t.Errorf("the refused app exists:\n%s", out)
	}
	// Another member's limit is their own.
	c.must(t, "stranger", "apps:create", "strangers-1")
	for _, name := range []string{"admins-1", "admins-2", "admins-3"} {
		c.must(t, "admin", "apps:create", name)
	}

	// Review apps belong to the parent's owner, and count for them: a
	// collaborator's branch push makes none past the owner's limit.
	c.must(t, "owner", "reviewapps:enable", "-a", "shared")
	dir := repo(t, "procfile-app")
	git(t, dir, "checkout", "-q", "-b", "feature-x")
	out, err = c.s.push(dir, c.keys["collab"], "shared", "feature-x")
	if err == nil || !hasRemoteLine(out, " !     You've reached the limit of 2 apps for members of this server. Delete some apps or ask an administrator to raise --max-apps-per-user.") {
		t.Errorf("a review app past the owner's limit: %v\n%s", err, out)
	}
	if out := c.must(t, "admin", "apps"); strings.Contains(out, "feature") {
		t.Errorf("a review app was made past the limit:\n%s", out)
	}
	// A destroyed app frees a place.
	c.must(t, "owner", "apps:destroy", "-a", "second", "--confirm", "second")
	out, err = c.s.push(dir, c.keys["collab"], "shared", "feature-x")
	if err != nil || !hasRemoteLine(out, "-----> Created review app shared-feature-x of shared for branch feature-x") {
		t.Errorf("a review app within the limit: %v\n%s", err, out)
	}
	if out, err := c.ssh("owner", "apps:create", "third"); err == nil || !hasLine(out, limitLine) {
		t.Errorf("owner's app past the limit with a review app: %v\n%s", err, out)
	}
}
