// Package hosttest lets a package's tests check that they left no mounts
// on the host while other packages' tests, run at the same time by `go
// test ./...`, mount and unmount their own.
//
// The mount table is the whole machine's: comparing it before and after a
// package's tests fails whenever another package's test is mid-way
// through a mount. So each test binary gets a temporary directory of its
// own (TMPDIR, hence t.TempDir), and a leak is a mount point under that
// directory, or anywhere outside the shared temporary directory and the
// named network namespaces, which come and go with every package.
package hosttest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Temp is the private temporary directory of one test binary.
type Temp struct {
	dir, shared string
	before      string
}

// NewTemp makes the private directory (world-writable and sticky, as /tmp
// is, since sandboxed steps running as app users write there), points
// TMPDIR at it and records the mounts that concern this binary.
func NewTemp(prefix string) (*Temp, error) {
	shared := os.TempDir()
	dir, err := os.MkdirTemp(shared, prefix)
	if err != nil {
		return nil, fmt.Errorf("private temporary directory: %w", err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil {
		return nil, fmt.Errorf("private temporary directory: %w", err)
	}
	t := &Temp{dir: dir, shared: shared}
	t.before = t.mounts()
	os.Setenv("TMPDIR", dir)
	return t, nil
}

// mounts lists the mount points this binary answers for.
func (t *Temp) mounts() string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var points []string
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := f[4]
		mine := p == t.dir || strings.HasPrefix(p, t.dir+"/")
		others := strings.HasPrefix(p, "/run/netns/") || strings.HasPrefix(p, filepath.Clean(t.shared)+"/")
		if mine || !others {
			points = append(points, p)
		}
	}
	return strings.Join(points, "\n")
}

// Close reports the mounts left behind, if any, and removes the directory.
func (t *Temp) Close() error {
	now := t.mounts()
	os.Setenv("TMPDIR", t.shared)
	if now != t.before {
		return fmt.Errorf("the host's mounts changed:\nbefore:\n%s\nafter:\n%s", t.before, now)
	}
	return os.RemoveAll(t.dir)
}
