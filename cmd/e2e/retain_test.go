package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// slugFiles lists the slug archives (ID.tgz) in the server's home, by id.
func (s *server) slugFiles(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(s.home, "slugs", "*.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = strings.TrimSuffix(filepath.Base(m[i]), ".tgz")
	}
	slices.Sort(m)
	return m
}

// releaseSlugs returns the slug id of each of the app's releases, by
// version, and which of them the API says were removed.
func (s *server) releaseSlugs(t *testing.T, app string) (ids map[int]string, removed map[int]bool) {
	t.Helper()
	var rels []struct {
		Version int `json:"version"`
		Slug    *struct {
			ID string `json:"id"`
		} `json:"slug"`
		SlugRemoved bool `json:"slug_removed"`
	}
	if err := json.Unmarshal([]byte(s.hako(t, "releases", "-a", app, "--json", "-n", "1000")), &rels); err != nil {
		t.Fatal(err)
	}
	ids, removed = map[int]string{}, map[int]bool{}
	for _, r := range rels {
		if r.Slug != nil {
			ids[r.Version] = r.Slug.ID
		}
		removed[r.Version] = r.SlugRemoved
	}
	return ids, removed
}

// pushVersion commits index.html saying body and pushes it, failing the
// test unless it is released as vN.
func (s *server) pushVersion(t *testing.T, dir, key, app, body string, v int) {
	t.Helper()
	writeFile(t, dir, "index.html", body+"\n")
	git(t, dir, "commit", "-qam", body)
	out, err := s.push(dir, key, app, "main")
	if err != nil || !released(out, v) {
		t.Fatalf("push of %s: %v\n%s", body, err, out)
	}
}

// TestKeepSlugsBoundsPushes: with --keep-slugs 2, five pushes leave the
// slugs of the last two releases (the current one's among them) and no
// unpacked tree of the others; releases:info says a removed slug was
// removed, and a rollback to its release is refused in Heroku's error
// shape, naming the limit, while the app keeps serving.
func TestKeepSlugsBoundsPushes(t *testing.T) {
	need(t, "python3")
	const keep = 2
	s := startServer(t, "--keep-slugs", fmt.Sprint(keep))
	s.hako(t, "apps:create", "bounded")
	dir := repo(t, "procfile-app")
	for i := range keep + 3 {
		s.pushVersion(t, dir, s.key, "bounded", fmt.Sprintf("version %d", i+1), i+2)
	}
	s.waitBody(t, "bounded", "version 5")
	ids, removed := s.releaseSlugs(t, "bounded")
	want := slices.Sorted(slices.Values([]string{ids[6], ids[5]}))
	if got := s.slugFiles(t); !slices.Equal(got, want) {
		t.Fatalf("slug files %v, want those of v5 and v6 %v", got, want)
	}
	for v := 2; v <= 4; v++ {
		if !removed[v] {
			t.Errorf("the API does not say v%d's slug was removed", v)
		}
		if _, err := os.Stat(filepath.Join(s.home, "run", "bounded", ids[v])); !os.IsNotExist(err) {
			t.Errorf("v%d's unpacked slug is still there: %v", v, err)
		}
	}
	if removed[5] || removed[6] {
		t.Errorf("the API says a kept slug was removed: %v", removed)
	}
	info := s.hako(t, "releases:info", "v3", "-a", "bounded")
	if line := fmt.Sprintf("%-8s %s (removed: only the latest releases' slugs are kept, see --keep-slugs)", "Slug:", ids[3]); !hasLine(info, line) {
		t.Errorf("releases:info v3 lacks %q:\n%s", line, info)
	}

	refusal := "The slug of v3 of bounded was removed: this server keeps the slugs of each app's last 2 deploys and of its current release (--keep-slugs). Deploy that code again to run it."
	out, err := s.run("releases:rollback", "v3", "-a", "bounded")
	if err == nil || !hasLine(out, "Rolling back ⬢ bounded to v3... failed") || !hasLine(out, " ▸    "+refusal) {
		t.Fatalf("rollback to v3: %v\n%s", err, out)
	}
	status, body := s.api(t, "POST", "/apps/bounded/releases", `{"release":"v3"}`)
	var e struct{ ID, Message string }
	if json.Unmarshal([]byte(body), &e) != nil || status != 422 || e.ID != "invalid_params" || e.Message != refusal {
		t.Errorf("POST releases {release: v3} = %d %s", status, body)
	}
	if v := s.currentVersion(t, "bounded"); v != 6 {
		t.Errorf("current v%d after refused rollbacks, want v6", v)
	}
	if got := s.slugFiles(t); !slices.Equal(got, want) {
		t.Errorf("refused rollbacks changed the slugs: %v, want %v", got, want)
	}
	if code, body, err := s.get("bounded", "/"); code != 200 || body != "version 5\n" {
		t.Errorf("after refused rollbacks the app answers %d %q %v", code, body, err)
	}
	// The previous release's slug is kept: rolling back to it works, and
	// removes nothing.
	if out := s.hako(t, "releases:rollback", "v5", "-a", "bounded"); !hasLine(out, "Rolling back ⬢ bounded to v5... done, v7") {
		t.Errorf("rollback to v5:\n%s", out)
	}
	s.waitBody(t, "bounded", "version 4")
	if got := s.slugFiles(t); !slices.Equal(got, want) {
		t.Errorf("after a rollback slug files %v, want %v", got, want)
	}
}

// TestKeepSlugsSharedByPromotion: with --keep-slugs 1, a slug promoted
// from staging to production stays while production runs it, however
// often staging pushes since, and goes once no app retains it.
func TestKeepSlugsSharedByPromotion(t *testing.T) {
	need(t, "python3")
	s := startServer(t, "--keep-slugs", "1")
	for _, a := range []string{"keep-staging", "keep-prod"} {
		s.hako(t, "apps:create", a)
	}
	s.hako(t, "pipelines:create", "keep")
	s.hako(t, "pipelines:add", "keep", "-a", "keep-staging", "--stage", "staging")
	s.hako(t, "pipelines:add", "keep", "-a", "keep-prod", "--stage", "production")
	dir := repo(t, "procfile-app")
	s.pushVersion(t, dir, s.key, "keep-staging", "promoted", 2)
	if out := s.hako(t, "pipelines:promote", "-a", "keep-staging"); !hasLine(out, "Promoting ⬢ keep-staging to ⬢ keep-prod... done, v2") {
		t.Fatalf("pipelines:promote:\n%s", out)
	}
	stagingIDs, _ := s.releaseSlugs(t, "keep-staging")
	shared := stagingIDs[2]
	s.pushVersion(t, dir, s.key, "keep-staging", "second", 3)
	s.pushVersion(t, dir, s.key, "keep-staging", "third", 4)
	stagingIDs, _ = s.releaseSlugs(t, "keep-staging")
	want := slices.Sorted(slices.Values([]string{shared, stagingIDs[4]}))
	if got := s.slugFiles(t); !slices.Equal(got, want) {
		t.Fatalf("slug files %v, want production's promoted one and staging's current %v", got, want)
	}
	if _, removed := s.releaseSlugs(t, "keep-staging"); removed[2] || !removed[3] {
		t.Errorf("staging's removed slugs: %v, want v3's only", removed)
	}
	// Staging's unpacked slugs: its current one and the newest earlier
	// one still kept (v2's, production's), not v3's, which went.
	if got, want := entries(t, filepath.Join(s.home, "run", "keep-staging")), slices.Sorted(slices.Values([]string{shared, stagingIDs[4]})); !slices.Equal(got, want) {
		t.Errorf("staging's unpacked slugs %v, want %v", got, want)
	}
	s.waitBody(t, "keep-prod", "promoted")
	s.hako(t, "ps:restart", "-a", "keep-prod")
	s.waitBody(t, "keep-prod", "promoted")

	// Promoting again moves production off the shared slug: nothing
	// retains it any more.
	if out := s.hako(t, "pipelines:promote", "-a", "keep-staging"); !hasLine(out, "Promoting ⬢ keep-staging to ⬢ keep-prod... done, v3") {
		t.Fatalf("second pipelines:promote:\n%s", out)
	}
	s.waitBody(t, "keep-prod", "third")
	if got := s.slugFiles(t); !slices.Equal(got, []string{stagingIDs[4]}) {
		t.Errorf("slug files %v, want only the one both apps run %s", got, stagingIDs[4])
	}
}

// TestKeepSlugsStartSweep: a start removes a slug file no record names
// (what a crash between a record's deletion and its file's leaves, or a
// build killed before its release) and its unpacked tree, and keeps
// every slug a release retains; the app serves on.
func TestKeepSlugsStartSweep(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "swept")
	dir := repo(t, "procfile-app")
	s.pushVersion(t, dir, s.key, "swept", "one", 2)
	s.pushVersion(t, dir, s.key, "swept", "two", 3)
	kept := s.slugFiles(t)
	if len(kept) != 2 {
		t.Fatalf("slug files before the restart: %v", kept)
	}
	s.stop()
	orphan := strings.Repeat("0f", 32)
	data, err := os.ReadFile(filepath.Join(s.home, "slugs", kept[0]+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.home, "slugs", orphan+".tgz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.home, "run", "swept", orphan), 0o755); err != nil {
		t.Fatal(err)
	}
	s.start()
	if got := s.slugFiles(t); !slices.Equal(got, kept) {
		t.Errorf("slug files after the restart %v, want %v", got, kept)
	}
	if _, err := os.Stat(filepath.Join(s.home, "run", "swept", orphan)); !os.IsNotExist(err) {
		t.Errorf("the orphan's unpacked tree stays: %v", err)
	}
	s.waitBody(t, "swept", "two")
	if out := s.hako(t, "releases:rollback", "-a", "swept"); !hasLine(out, "Rolling back ⬢ swept to v2... done, v4") {
		t.Errorf("rollback after the restart:\n%s", out)
	}
	s.waitBody(t, "swept", "one")
}

// tokenOf makes an API token for role.
func (c *class) tokenOf(t *testing.T, role string) string {
	t.Helper()
	return strings.TrimSpace(c.must(t, role, "auth:tokens:create", "-s", "-d", "retain"))
}

// apiAs sends one request to the API with token.
func (s *server) apiAs(t *testing.T, token, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://127.0.0.1:"+s.apiPort+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// TestKeepSlugsAcrossUsers: another user's app cannot make the server
// remove a slug it does not own. A stranger cannot release the owner's
// slug in their app (the API answers 404 as for any unknown slug), and
// their own pushes remove only their own slugs; a collaborator who may
// release it in their app does, and the owner's pushes then keep it
// while that app runs it.
func TestKeepSlugsAcrossUsers(t *testing.T) {
	need(t, "python3")
	c := newClass(t, "--keep-slugs", "1")
	s := c.s
	owned := repo(t, "procfile-app")
	s.pushVersion(t, owned, c.keys["owner"], "shared", "owner's", 2)
	ownerIDs, _ := s.releaseSlugs(t, "shared")
	first := ownerIDs[2]

	c.must(t, "stranger", "apps:create", "strangers")
	tok := c.tokenOf(t, "stranger")
	status, body := s.apiAs(t, tok, "POST", "/apps/strangers/releases", fmt.Sprintf(`{"slug":%q}`, first))
	if status != 404 || !strings.Contains(body, `"id": "not_found"`) {
		t.Errorf("stranger's release of the owner's slug = %d %s, want 404", status, body)
	}
	if status, body := s.apiAs(t, tok, "GET", "/apps/strangers/slugs/"+first, ""); status != 404 {
		t.Errorf("stranger's view of the owner's slug = %d %s, want 404", status, body)
	}
	mine := repo(t, "procfile-app")
	for i := range 3 {
		s.pushVersion(t, mine, c.keys["stranger"], "strangers", fmt.Sprintf("stranger %d", i), i+2)
	}
	strangerIDs, _ := s.releaseSlugs(t, "strangers")
	if got, want := s.slugFiles(t), slices.Sorted(slices.Values([]string{first, strangerIDs[4]})); !slices.Equal(got, want) {
		t.Fatalf("slug files %v, want the owner's and the stranger's current %v", got, want)
	}
	s.waitBody(t, "shared", "owner's")

	// A collaborator releases the owner's slug in an app of theirs: it
	// counts as that app's, and outlives the owner's next pushes.
	c.must(t, "collab", "apps:create", "collabs")
	ctok := c.tokenOf(t, "collab")
	if status, body := s.apiAs(t, ctok, "POST", "/apps/collabs/releases", fmt.Sprintf(`{"slug":%q}`, first)); status != 201 {
		t.Fatalf("collaborator's release of the shared slug = %d %s", status, body)
	}
	s.pushVersion(t, owned, c.keys["owner"], "shared", "owner's second", 3)
	s.pushVersion(t, owned, c.keys["owner"], "shared", "owner's third", 4)
	ownerIDs, _ = s.releaseSlugs(t, "shared")
	if got, want := s.slugFiles(t), slices.Sorted(slices.Values([]string{first, ownerIDs[4], strangerIDs[4]})); !slices.Equal(got, want) {
		t.Errorf("slug files %v, want the collaborator's, the owner's and the stranger's current %v", got, want)
	}
	s.hako(t, "ps:scale", "web=1", "-a", "collabs")
	s.waitBody(t, "collabs", "owner's")
}

// TestKeepSlugsFlag: a server is refused a --keep-slugs that would keep
// no slug, or more than the release records it keeps.
func TestKeepSlugsFlag(t *testing.T) {
	for _, v := range []string{"0", "-1", "1001"} {
		c := exec.Command(bin, "server", "--keep-slugs", v)
		c.Env = append(os.Environ(), "HAKO_HOME="+t.TempDir())
		out, err := c.CombinedOutput()
		if err == nil || !hasLine(string(out), " ▸    --keep-slugs must be from 1 to 1000 (the release records kept per app).") {
			t.Errorf("server --keep-slugs %s: %v\n%s", v, err, out)
		}
	}
}
