package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestReviewAppsNotTakenOverAfterRename: the owner renames a parent with
// review apps; a stranger makes an app of the parent's old name and
// pushes the review app's branch to it. The stranger's app has no review
// apps: the branch is stored, not deployed into the owner's review app,
// which keeps serving the owner's code, and the renamed parent still
// deploys its branch there.
func TestReviewAppsNotTakenOverAfterRename(t *testing.T) {
	c := newClass(t)
	s := c.s
	dir := repo(t, "env-app")
	if out, err := s.push(dir, c.keys["owner"], "shared", "main"); err != nil {
		t.Fatalf("push main: %v\n%s", err, out)
	}
	c.must(t, "owner", "reviewapps:enable", "-a", "shared")
	git(t, dir, "checkout", "-q", "-b", "feat")
	commitFile(t, dir, "NOTES", "the owner's feature\n")
	if out, err := s.push(dir, c.keys["owner"], "shared", "feat"); err != nil || !hasRemoteLine(out, "-----> Created review app shared-feat of shared for branch feat") {
		t.Fatalf("push feat: %v\n%s", err, out)
	}
	s.waitPath(t, "shared-feat", "/env/HEROKU_BRANCH", "feat")

	token := strings.TrimSpace(c.must(t, "owner", "auth:tokens:create", "-s", "-d", "rename"))
	req, _ := http.NewRequest("PATCH", "http://127.0.0.1:"+s.apiPort+"/apps/shared", strings.NewReader(`{"name":"moved"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("rename: %d %s", resp.StatusCode, body)
	}

	c.must(t, "stranger", "apps:create", "shared")
	evil := repo(t, "go-app")
	git(t, evil, "checkout", "-q", "-b", "feat")
	out, err := s.push(evil, c.keys["stranger"], "shared", "feat")
	if err != nil || !hasRemoteLine(out, "-----> Branch feat stored, not deployed: push to main or master to deploy (git push REMOTE feat:main), or make review apps with `hako reviewapps:enable -a shared`.") {
		t.Errorf("the stranger's push of feat to the new shared: %v\n%s", err, out)
	}
	s.waitBody(t, "shared-feat", "env-app")
	if _, err := c.ssh("stranger", "config", "-a", "shared-feat"); err == nil {
		t.Error("the stranger reads the owner's review app")
	}

	commitFile(t, dir, "NOTES", "the owner's feature, again\n")
	if out, err := s.push(dir, c.keys["owner"], "moved", "feat"); err != nil || hasRemoteLine(out, "-----> Created review app shared-feat of moved for branch feat") || !released(out, 3) {
		t.Errorf("the owner's push of feat to moved: %v\n%s", err, out)
	}
}
