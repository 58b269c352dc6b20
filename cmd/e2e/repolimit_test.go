package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"hako/engine"
)

// TestRepoLimit: with --max-repo 4 (MiB) an app's repository holds at
// most that, however it is pushed: tags, which deploy nothing, are bound
// as branches are. A tag whose objects fit is stored; the next one, each
// within the per-push --max-source, would take the repository past the
// limit and is refused with a remote: line naming it, and nothing of it
// is kept: no ref, no objects. A branch push past it is refused too.
func TestRepoLimit(t *testing.T) {
	s := startServer(t, "--max-repo", "4", "--max-source", "3")
	s.hako(t, "apps:create", "hoard")
	if out := s.hako(t, "apps:info", "-a", "hoard"); !hasLineMatch(out, `Limits: +source 3 MiB and 200000 files, build 4096 MiB, slug 500 MB compressed, repository 4 MiB`) {
		t.Errorf("apps:info does not show the repository's limit:\n%s", out)
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	// commit adds 2.5 MiB that do not compress and tags the commit.
	commit := func(name string) {
		t.Helper()
		b := make([]byte, 5<<19)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, dir, "add", name)
		git(t, dir, "commit", "-qm", name)
		git(t, dir, "tag", name)
	}
	commit("v1")
	out, err := s.push(dir, s.key, "hoard", "refs/tags/v1")
	if err != nil || !hasRemoteLine(out, "-----> refs/tags/v1 stored; only branches main and master deploy.") {
		t.Fatalf("the first tag, within the limit: %v\n%s", err, out)
	}
	repoDir := filepath.Join(s.home, "repos", "hoard.git")
	before, sizeBefore := git(t, repoDir, "for-each-ref"), engine.DiskUse(repoDir)

	commit("v2")
	out, err = s.push(dir, s.key, "hoard", "refs/tags/v2")
	if err == nil || !hasRemoteLineMatch(out, ` !     Push rejected: with it the repository would take 5\.\d MiB, past its limit of 4 MiB\. Delete the branches and tags hoard no longer needs \(git push REMOTE --delete NAME\), or ask an administrator to raise --max-repo\.`) {
		t.Fatalf("a tag past the repository's limit: %v\n%s", err, out)
	}
	if after := git(t, repoDir, "for-each-ref"); after != before {
		t.Errorf("the refused push changed the refs:\n%s\nwant\n%s", after, before)
	}
	if size := engine.DiskUse(repoDir); size > sizeBefore+64<<10 {
		t.Errorf("the refused push left %d bytes in the repository (%d before)", size, sizeBefore)
	}
	// A branch, which would deploy, is bound the same.
	out, err = s.push(dir, s.key, "hoard", "main")
	if err == nil || !hasRemoteLineMatch(out, ` !     Push rejected: with it the repository would take 5\.\d MiB, past its limit of 4 MiB\..*`) {
		t.Fatalf("a branch past the repository's limit: %v\n%s", err, out)
	}
	if after := git(t, repoDir, "for-each-ref"); after != before {
		t.Errorf("the refused branch push changed the refs:\n%s\nwant\n%s", after, before)
	}
}
