package engine

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestStaleTemps(t *testing.T) {
	tmp := t.TempDir()
	now := time.Now()
	const tag, self, deadPID, livePID = "aaaaaaaaaaaa", 100, 200, 300
	alive := func(pid int) bool { return pid == self || pid == livePID }
	for _, tc := range []struct {
		name  string
		age   time.Duration
		stale bool
	}{
		{"hako-src-aaaaaaaaaaaa.200-1", 0, true},      // this home, earlier server
		{"hako-src-aaaaaaaaaaaa.300-1", 0, true},      // this home, even if the pid lives again
		{"hako-source-aaaaaaaaaaaa.200-1", 0, true},   // uploaded source
		{"hako-src-aaaaaaaaaaaa.100-1", 0, false},     // this very server's
		{"hako-src-bbbbbbbbbbbb.200-1", 0, true},      // another home, server gone
		{"hako-src-bbbbbbbbbbbb.300-1", 0, false},     // another home, server running
		{"hako-src-123456", 2 * untaggedMaxAge, true}, // an older version's, long abandoned
		{"hako-src-654321", time.Minute, false},       // an older version's, maybe building
		{"hako-builds", 2 * untaggedMaxAge, false},    // not the engine's
		{"other-src-aaaaaaaaaaaa.200-1", 0, false},    // not the engine's
		{"hako-srcaaaaaaaaaaaa.200-1", 0, false},      // not the engine's
		{"hako-source-bbbbbbbbbbbb.x-1", time.Hour, false},
	} {
		p := filepath.Join(tmp, tc.name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-tc.age), now.Add(-tc.age)); err != nil {
			t.Fatal(err)
		}
		t.Run(tc.name, func(t *testing.T) {
			got := slices.Contains(staleTemps(tmp, tag, self, now, alive), p)
			if got != tc.stale {
				t.Errorf("stale = %v, want %v", got, tc.stale)
			}
		})
	}
	// A file of that name is not a directory the engine made.
	if err := os.WriteFile(filepath.Join(tmp, "hako-src-aaaaaaaaaaaa.200-file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(staleTemps(tmp, tag, self, now, alive), filepath.Join(tmp, "hako-src-aaaaaaaaaaaa.200-file")) {
		t.Error("a file was found stale")
	}
}

func TestGitRunningIn(t *testing.T) {
	if _, err := os.Stat("/proc/self/cwd"); err != nil {
		t.Skip("no /proc")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if !gitRunningIn(wd) {
		t.Errorf("gitRunningIn(%s) = false while this test runs there", wd)
	}
	if gitRunningIn(t.TempDir()) {
		t.Error("gitRunningIn of a fresh directory = true")
	}
}
