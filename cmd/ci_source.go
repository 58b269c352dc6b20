package cmd

import (
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// source returns the tar.gz of what the run tests, as it is produced, and
// a function that waits for its producer and returns its failure. By
// default that is the committed state of the work tree (of dir within
// it, when the app is a subdirectory), as git archive gives it; with
// --dirty, the files git does not ignore, as builds:create uploads them,
// or every file of a directory that is not a work tree.
func (r *ciRun) source() (io.ReadCloser, func() error, error) {
	if !r.dirty {
		tree := "HEAD"
		if prefix := gitOutput(r.dir, "rev-parse", "--show-prefix"); prefix != "" {
			tree = "HEAD:" + strings.TrimSuffix(prefix, "/")
		}
		cmd := exec.Command("git", "-C", r.dir, "archive", "--format=tar.gz", tree)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, fmt.Errorf("git archive: %w", err)
		}
		fmt.Fprintf(r.out, "-----> Uploading %s of %s\n", tree, r.dir)
		return out, func() error {
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("git archive %s: %v: %s", tree, err, strings.TrimSpace(stderr.String()))
			}
			return nil
		}, nil
	}
	files, err := sourceFiles(r.dir)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(r.out, "-----> Uploading %d files from %s\n", len(files), r.dir)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := writeTarGz(pw, r.dir, files)
		pw.CloseWithError(err)
		done <- err
	}()
	return pr, func() error { return <-done }, nil
}

// sortByTime sorts paths oldest first by their times.
func sortByTime(paths []string, times map[string]time.Time) {
	slices.SortFunc(paths, func(a, b string) int { return times[a].Compare(times[b]) })
}
