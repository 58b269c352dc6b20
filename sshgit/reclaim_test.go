package sshgit

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDrops: a push drops commits when it deletes a ref or moves one to a
// commit that does not contain the old one; creating refs and
// fast-forwards drop none.
func TestDrops(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		c := exec.Command("git", append([]string{"-c", "user.email=t@example.test", "-c", "user.name=t", "-c", "commit.gpgsign=false"}, args...)...)
		c.Dir = dir
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	run("commit", "-q", "--allow-empty", "-m", "a")
	a := run("rev-parse", "HEAD")
	run("commit", "-q", "--allow-empty", "-m", "b")
	b := run("rev-parse", "HEAD")
	run("checkout", "-q", "--orphan", "other")
	run("commit", "-q", "--allow-empty", "-m", "c")
	c := run("rev-parse", "HEAD")
	env := append(os.Environ(), "GIT_DIR="+dir+"/.git")
	for _, tc := range []struct {
		name string
		refs []refArg
		want bool
	}{
		{"a new ref", []refArg{{Old: zeroSHA, New: c, Name: "refs/tags/t"}}, false},
		{"a fast-forward", []refArg{{Old: a, New: b, Name: "refs/heads/main"}}, false},
		{"a force push", []refArg{{Old: b, New: c, Name: "refs/heads/main"}}, true},
		{"a deletion", []refArg{{Old: zeroSHA, New: c, Name: "refs/tags/t"}, {Old: a, New: zeroSHA, Name: "refs/tags/old"}}, true},
	} {
		if got := drops(env, tc.refs); got != tc.want {
			t.Errorf("%s: drops = %v, want %v", tc.name, got, tc.want)
		}
	}
}
