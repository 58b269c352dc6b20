package e2e

import (
	"strings"
	"testing"
)

// TestPipelinesOfMembersHostile: pipelines among members. The owner of
// "shared" makes a pipeline of it; a stranger can neither couple
// "shared" into a pipeline of theirs nor see the owner's; and when an
// administrator puts the stranger's app downstream of "shared", the
// owner's promotion into it is refused with Heroku's 403 and the
// stranger's app keeps its release.
func TestPipelinesOfMembersHostile(t *testing.T) {
	need(t, "python3")
	c := newClass(t)
	if out, err := c.s.push(repo(t, "procfile-app"), c.keys["owner"], "shared", "main"); err != nil || !released(out, 2) {
		t.Fatalf("owner's push: %v\n%s", err, out)
	}
	if out := c.must(t, "owner", "pipelines:create", "line"); !hasLine(out, "Creating line pipeline... done") {
		t.Fatalf("owner's pipelines:create:\n%s", out)
	}
	c.must(t, "owner", "pipelines:add", "line", "-a", "shared", "--stage", "staging")
	c.must(t, "stranger", "apps:create", "strangers-prod")
	c.must(t, "stranger", "pipelines:create", "theirs")

	// A member couples another member's app: refused, and it stays put.
	out, err := c.ssh("stranger", "pipelines:add", "theirs", "-a", "shared", "--stage", "production")
	if err == nil || !hasLine(out, forbiddenShared) {
		t.Errorf("stranger couples shared: %v\n%s", err, out)
	}
	// … or their own app into another member's pipeline.
	out, err = c.ssh("stranger", "pipelines:add", "line", "-a", "strangers-prod", "--stage", "production")
	if err == nil || !hasLine(out, " ▸    You do not have access to the pipeline line.") {
		t.Errorf("stranger couples into the owner's pipeline: %v\n%s", err, out)
	}
	if out := c.must(t, "owner", "pipelines", "line"); !hasLineMatch(out, `staging\s+shared\s+v2\s+[0-9a-f]{7}`) || strings.Contains(out, "strangers-prod") {
		t.Errorf("line after the refusals:\n%s", out)
	}
	// The collaborator sees the pipeline through shared.
	if out := c.must(t, "collab", "pipelines"); !hasLine(out, "line") {
		t.Errorf("collaborator's pipelines lack line:\n%s", out)
	}

	// The administrator puts the stranger's app downstream of shared; the
	// owner may not promote into it, by default or by name.
	c.must(t, "admin", "pipelines:add", "line", "-a", "strangers-prod", "--stage", "production")
	for _, args := range [][]string{{"pipelines:promote", "-a", "shared"}, {"pipelines:promote", "-a", "shared", "--to", "strangers-prod"}} {
		out, err := c.ssh("owner", args...)
		if err == nil || !hasLine(out, " ▸    You do not have access to the app strangers-prod.") || strings.Contains(out, "Promoting") {
			t.Errorf("owner: ssh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if slug, desc := c.s.releaseSlug(t, "strangers-prod", ""); slug != "" || desc != "Initial release" {
		t.Errorf("strangers-prod's release after the refused promotions: slug %q, %q", slug, desc)
	}
	// Nor may the owner take the stranger's app out of the pipeline.
	if out, err := c.ssh("owner", "pipelines:remove", "-a", "strangers-prod"); err == nil || !hasLine(out, " ▸    You do not have access to the app strangers-prod.") {
		t.Errorf("owner uncouples strangers-prod: %v\n%s", err, out)
	}
	// The stranger promotes nothing from shared either.
	if out, err := c.ssh("stranger", "pipelines:promote", "-a", "shared", "--to", "strangers-prod"); err == nil || !hasLine(out, forbiddenShared) {
		t.Errorf("stranger promotes from shared: %v\n%s", err, out)
	}
	if slug, _ := c.s.releaseSlug(t, "strangers-prod", ""); slug != "" {
		t.Errorf("strangers-prod runs slug %s", slug)
	}
}
