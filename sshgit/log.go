package sshgit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

var commitRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Log returns one line per commit (short hash, author, subject) that the
// app's repository holds in to but not in from, newest first, for
// pipelines:diff. Both must be full commit hashes, so that nothing a
// caller passes reaches git as an option.
func (s *Server) Log(app, from, to string) ([]string, error) {
	if !commitRe.MatchString(from) || !commitRe.MatchString(to) {
		return nil, fmt.Errorf("log %s: %q..%q are not commit hashes", app, from, to)
	}
	repo := filepath.Join(s.ReposDir, app+".git")
	cmd := exec.Command("git", "log", "--no-color", "--format=%h  %as  %s  (%an)", "--max-count=200", from+".."+to, "--")
	cmd.Env = append(os.Environ(), "GIT_DIR="+repo)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git log in %s: %w", repo, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}
