package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// releaseSlug returns the slug id and description of an app's release
// (vN, or "" for the current one).
func (s *server) releaseSlug(t *testing.T, app, version string) (slug, desc string) {
	t.Helper()
	args := []string{"releases:info", "-a", app, "--json"}
	if version != "" {
		args = append(args, version)
	}
	var r struct {
		Description string `json:"description"`
		Slug        *struct {
			ID string `json:"id"`
		} `json:"slug"`
	}
	if err := json.Unmarshal([]byte(s.hako(t, args...)), &r); err != nil {
		t.Fatal(err)
	}
	if r.Slug == nil {
		return "", r.Description
	}
	return r.Slug.ID, r.Description
}

// fileSHA256 is the hex sha256 of a file's bytes.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestPipelinePromote promotes a staging app's slug to production: the
// release on production runs the very bytes staging runs (no build), with
// production's own config vars, its release phase included; pipelines
// and pipelines:diff show the stages.
func TestPipelinePromote(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	for _, a := range []string{"shop-staging", "shop-prod"} {
		s.hako(t, "apps:create", a)
	}
	s.hako(t, "config:set", "-a", "shop-staging", "STAGE=staging")
	s.hako(t, "config:set", "-a", "shop-prod", "STAGE=production")
	dir := repo(t, "env-app")
	if out, err := s.push(dir, s.key, "shop-staging", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if out := s.hako(t, "pipelines:create", "shop"); !hasLine(out, "Creating shop pipeline... done") {
		t.Fatalf("pipelines:create:\n%s", out)
	}
	if out, err := s.run("pipelines:create", "shop"); err == nil || !hasLine(out, " ▸    A pipeline named shop exists already.") {
		t.Errorf("a second pipeline of the same name: %v\n%s", err, out)
	}
	s.hako(t, "pipelines:add", "shop", "-a", "shop-staging", "--stage", "staging")
	if out := s.hako(t, "pipelines:add", "shop", "-a", "shop-prod", "--stage", "production"); !hasLine(out, "Adding ⬢ shop-prod to shop pipeline as production... done") {
		t.Errorf("pipelines:add:\n%s", out)
	}
	if out, err := s.run("pipelines:add", "shop", "-a", "shop-prod", "--stage", "qa"); err == nil || !hasLine(out, ` ▸    Stage "qa" is invalid: use development, staging or production.`) {
		t.Errorf("a bad stage: %v\n%s", err, out)
	}
	if out := s.hako(t, "pipelines:diff", "-a", "shop-staging"); !hasLine(out, "⬢ shop-staging and ⬢ shop-prod cannot be compared: shop-prod runs no code built from a commit.") {
		t.Errorf("pipelines:diff before a promotion:\n%s", out)
	}

	out := s.hako(t, "pipelines:promote", "-a", "shop-staging")
	if !hasLine(out, "Promoting ⬢ shop-staging to ⬢ shop-prod... done, v3") {
		t.Fatalf("pipelines:promote:\n%s", out)
	}
	stagingSlug, _ := s.releaseSlug(t, "shop-staging", "")
	prodSlug, desc := s.releaseSlug(t, "shop-prod", "")
	if desc != "Promote shop-staging v3" {
		t.Errorf("promoted release's description = %q, want %q", desc, "Promote shop-staging v3")
	}
	if prodSlug != stagingSlug {
		t.Fatalf("production runs slug %s, staging %s", prodSlug, stagingSlug)
	}
	// The slug's file is the one staging's build wrote: its bytes hash to
	// the id both releases name.
	if got := fileSHA256(t, filepath.Join(s.home, "slugs", prodSlug+".tgz")); got != stagingSlug {
		t.Errorf("sha256 of the promoted slug = %s, want %s", got, stagingSlug)
	}
	s.waitPath(t, "shop-prod", "/env/STAGE", "production")
	s.waitPath(t, "shop-staging", "/env/STAGE", "staging")
	logs := s.hako(t, "logs", "-a", "shop-prod", "-n", "1500")
	if !hasLineMatch(logs, `\S+ app\[release\.\d+\]: release phase ran for v3`) {
		t.Errorf("the release phase did not run on production:\n%s", logs)
	}

	info := s.hako(t, "pipelines", "shop")
	if !hasLine(info, "=== shop") || !hasLineMatch(info, `staging\s+shop-staging\s+v3\s+[0-9a-f]{7}`) || !hasLineMatch(info, `production\s+shop-prod\s+v3\s+[0-9a-f]{7}`) {
		t.Errorf("pipelines shop:\n%s", info)
	}
	if out := s.hako(t, "pipelines:diff", "-a", "shop-staging"); !hasLine(out, "⬢ shop-prod is up to date with ⬢ shop-staging") {
		t.Errorf("pipelines:diff after the promotion:\n%s", out)
	}
	commitFile(t, dir, "NOTES", "one more\n")
	if out, err := s.push(dir, s.key, "shop-staging", "main"); err != nil {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	if out := s.hako(t, "pipelines:diff", "-a", "shop-staging"); !hasLine(out, "⬢ shop-staging is ahead of ⬢ shop-prod by 1 commit:") || !hasLineMatch(out, `  [0-9a-f]{7}  \d{4}-\d\d-\d\d  change NOTES  \(e2e\)`) {
		t.Errorf("pipelines:diff one commit ahead:\n%s", out)
	}
	// A target whose release phase fails keeps its release; the others
	// get the promotion, and the command says which failed.
	s.hako(t, "apps:create", "shop-prod2")
	s.hako(t, "config:set", "-a", "shop-prod2", "FAIL_RELEASE=1")
	s.hako(t, "pipelines:add", "shop", "-a", "shop-prod2", "--stage", "production")
	out, err := s.run("pipelines:promote", "-a", "shop-staging")
	if err == nil || !hasLine(out, "Promoting ⬢ shop-staging to ⬢ shop-prod... done, v4") ||
		!hasLine(out, "Promoting ⬢ shop-staging to ⬢ shop-prod2... failed: Release v3 failed: its release command exited with status 7.") ||
		!hasLine(out, " ▸    The promotion failed on 1 of 2 apps.") {
		t.Errorf("a promotion with a failing release phase: %v\n%s", err, out)
	}
	if slug, _ := s.releaseSlug(t, "shop-prod2", ""); slug != "" {
		t.Errorf("shop-prod2 runs slug %s after its release phase failed", slug)
	}
	if slug, _ := s.releaseSlug(t, "shop-prod", ""); slug == prodSlug {
		t.Errorf("shop-prod still runs the first slug after the second promotion")
	}

	// Production is the last stage: nothing is downstream of it.
	if out, err := s.run("pipelines:promote", "-a", "shop-prod"); err == nil || !hasLine(out, " ▸    shop-prod is in the last stage of its pipeline (production): there is nothing downstream to promote to.") {
		t.Errorf("promote from production: %v\n%s", err, out)
	}
	// An app outside the pipeline is no target.
	s.hako(t, "apps:create", "outsider")
	if out, err := s.run("pipelines:promote", "-a", "shop-staging", "--to", "outsider"); err == nil || !hasLine(out, " ▸    outsider is not in the pipeline of shop-staging.") {
		t.Errorf("promote to an app outside the pipeline: %v\n%s", err, out)
	}
	if slug, _ := s.releaseSlug(t, "outsider", ""); slug != "" {
		t.Errorf("outsider got slug %s", slug)
	}
	// A destroyed app leaves its pipeline.
	s.hako(t, "apps:destroy", "-a", "shop-prod", "--confirm", "shop-prod")
	if info := s.hako(t, "pipelines", "shop"); hasLineMatch(info, `production\s+shop-prod\s+.*`) {
		t.Errorf("a destroyed app is still in the pipeline:\n%s", info)
	}
}
