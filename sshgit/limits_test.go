package sshgit

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
)

// TestCheckRepo: a push is refused once the repository, the objects it
// brought and a block per ref it creates pass the limit; one that only
// deletes refs always passes.
func TestCheckRepo(t *testing.T) {
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "pack"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	const sha = "1111111111111111111111111111111111111111"
	update := refArg{Old: sha, New: sha, Name: "refs/heads/main"}
	create := func(n int) []refArg {
		var refs []refArg
		for range n {
			refs = append(refs, refArg{Old: zeroSHA, New: sha, Name: "refs/tags/t"})
		}
		return refs
	}
	del := refArg{Old: sha, New: zeroSHA, Name: "refs/tags/old"}
	for _, tc := range []struct {
		name  string
		limit int64
		refs  []refArg
		full  bool
	}{
		{"an update within the limit", 2 << 20, []refArg{update}, false},
		{"new refs past it", 2 << 20, create(300), true},
		{"an update of a repository past it", 512 << 10, []refArg{update}, true},
		{"deletions of a repository past it", 512 << 10, []refArg{del, del}, false},
		{"a deletion with a new ref past it", 512 << 10, []refArg{del, create(1)[0]}, true},
	} {
		err := checkRepo(repo, tc.refs, engine.BuildLimits{RepoBytes: tc.limit})
		var full errRepoFull
		if got := errors.As(err, &full); got != tc.full {
			t.Errorf("%s: checkRepo = %v, want refused %v", tc.name, err, tc.full)
		}
	}
}

// TestReadLine: a hook request line is read whole within its bound and
// refused past it.
func TestReadLine(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	br := bufio.NewReaderSize(strings.NewReader(long+"\nrest"), 16)
	if got, err := readLine(br, 20_000); err != nil || string(got) != long+"\n" {
		t.Errorf("readLine within the bound = %d bytes, %v", len(got), err)
	}
	br = bufio.NewReaderSize(strings.NewReader(long+"\n"), 16)
	if got, err := readLine(br, 5_000); err == nil || got != nil {
		t.Errorf("readLine past the bound = %d bytes, %v; want an error", len(got), err)
	}
}
