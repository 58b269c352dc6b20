package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hako/engine"
)

// TestRepoLimit: with --max-repo 4 (MiB) an app's repository holds at
// most that, however it is pushed: tags and branches that deploy nothing
// are bound as main is. A tag whose objects fit is stored; a second one,
// and a branch, each within the per-push --max-source, would take the
// repository past the limit and are refused with a remote: line naming
// it, and nothing of them is kept: no ref, no objects. Deleting the first
// tag, as the line advises, gives its room back at once, and the second
// tag then fits.
func TestRepoLimit(t *testing.T) {
	s := startServer(t, "--max-repo", "4", "--max-source", "3")
	s.hako(t, "apps:create", "hoard")
	if out := s.hako(t, "apps:info", "-a", "hoard"); !hasLineMatch(out, `Limits: +source 3 MiB and 200000 files, build 4096 MiB and 15m0s, slug 500 MB compressed, repository 4 MiB`) {
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

	// v2 and the branch other share nothing with v1.
	git(t, dir, "checkout", "-q", "--orphan", "other")
	git(t, dir, "rm", "-q", "--cached", "v1")
	os.Remove(filepath.Join(dir, "v1"))
	commit("v2")
	full := ` !     Push rejected: with it the repository would take 5\.\d MiB, past its limit of 4 MiB\. Delete the branches and tags hoard no longer needs \(git push REMOTE --delete NAME\), or ask an administrator to raise --max-repo\.`
	for _, ref := range []string{"refs/tags/v2", "other"} {
		out, err = s.push(dir, s.key, "hoard", ref)
		if err == nil || !hasRemoteLineMatch(out, full) {
			t.Fatalf("%s past the repository's limit: %v\n%s", ref, err, out)
		}
		if after := git(t, repoDir, "for-each-ref"); after != before {
			t.Errorf("the refused push of %s changed the refs:\n%s\nwant\n%s", ref, after, before)
		}
		if size := engine.DiskUse(repoDir); size > sizeBefore+64<<10 {
			t.Errorf("the refused push of %s left %d bytes in the repository (%d before)", ref, size, sizeBefore)
		}
	}

	// Deleting v1 gives its room back, once the push has ended.
	if out, err := s.push(dir, s.key, "hoard", "--delete", "refs/tags/v1"); err != nil {
		t.Fatalf("deleting v1: %v\n%s", err, out)
	}
	waitFor(t, 30*time.Second, "the room of the deleted tag", func() bool { return engine.DiskUse(repoDir) < 1<<20 })
	if out, err := s.push(dir, s.key, "hoard", "refs/tags/v2"); err != nil || !hasRemoteLine(out, "-----> refs/tags/v2 stored; only branches main and master deploy.") {
		t.Fatalf("v2 once v1 was deleted: %v\n%s", err, out)
	}
}
