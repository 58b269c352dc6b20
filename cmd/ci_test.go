package cmd

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"hako/engine"
)

// What cannot be tested is refused before any server starts, with what
// to do instead.
func TestCIRefusals(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	plain := t.TempDir()
	empty := t.TempDir()
	if out, err := exec.Command("git", "-C", empty, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not a directory", []string{"ci", "--dir", "/nonexistent/app"}, "/nonexistent/app is not a directory."},
		{"not a work tree", []string{"ci", "--dir", plain}, plain + " is not in a git work tree: commit the app, or test its files as they are with --dirty."},
		{"no commit", []string{"ci", "--dir", empty}, "The repository has no commit yet: commit the app, or test its files as they are with --dirty."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(&Env{Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader("")}, tc.args)
			if code != 1 || strings.TrimSpace(stderr.String()) != "▸    "+tc.want || stdout.Len() != 0 {
				t.Errorf("exit %d, stderr %q, stdout %q; want 1 and %q", code, stderr.String(), stdout.String(), tc.want)
			}
		})
	}
	// Over SSH there is no local directory to test.
	var stderr bytes.Buffer
	if code := Run(&Env{Stdout: &stderr, Stderr: &stderr, Remote: true}, []string{"ci"}); code != 1 || !strings.Contains(stderr.String(), "ci is not a hako command") {
		t.Errorf("ci over SSH: exit %d, %q", code, stderr.String())
	}
}

func TestCIExitCode(t *testing.T) {
	for _, tc := range []struct {
		res  engine.TestRunResult
		want int
	}{
		{engine.TestRunResult{Status: engine.TestSucceeded}, 0},
		{engine.TestRunResult{Status: engine.TestErrored}, 1},
		{engine.TestRunResult{Status: engine.TestFailed, Nodes: []engine.TestNode{{ExitCode: 0}, {ExitCode: 7}, {ExitCode: 2}}}, 7},
		{engine.TestRunResult{Status: engine.TestFailed}, 1},
	} {
		if got := exitCode(&tc.res); got != tc.want {
			t.Errorf("exitCode(%+v) = %d, want %d", tc.res, got, tc.want)
		}
	}
}

func TestCIBranch(t *testing.T) {
	for _, k := range []string{"HEROKU_TEST_RUN_BRANCH", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILDKITE_BRANCH", "BRANCH_NAME"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	if got := ciBranch(); got != "" {
		t.Errorf("ciBranch() = %q with no variable", got)
	}
	t.Setenv("GITHUB_REF_NAME", "main")
	t.Setenv("GITHUB_HEAD_REF", "feature-x") // a pull request's branch wins
	if got := ciBranch(); got != "feature-x" {
		t.Errorf("ciBranch() = %q, want feature-x", got)
	}
}
