package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Leftovers of a killed server. A server that stops cleanly removes its
// temporary directories itself; one killed with SIGKILL (or by a power
// cut) leaves them: checkouts of pushed commits in the system's temporary
// directory, build directories in HAKO_HOME/tmp, git's quarantine of a
// push's objects in the bare repository, unpacked slugs of releases long
// gone, slug files no record names. Sweep removes them when the next
// server starts.
//
// Only one server runs on a HAKO_HOME (the store's lock sees to that), so
// what lies inside it is the sweeping server's to remove. The system's
// temporary directory is shared with other servers: the directories the
// engine makes there carry a tag of their HAKO_HOME and the pid of their
// server (MkdirTemp), and a start removes only its own home's and those
// whose server process is gone.

const (
	// incomingMaxAge is how old git's quarantine directory of a push may
	// grow before a start removes it even though a git process may still
	// be working in the repository.
	incomingMaxAge = 5 * time.Minute
	// untaggedMaxAge is how old a temporary directory of an older hako
	// version, which names no owner, must be before a start removes it.
	untaggedMaxAge = 24 * time.Hour
)

// tempKinds are the prefixes of the directories MkdirTemp makes in the
// system's temporary directory: "src" for checkouts of pushed commits,
// "source" for uploaded sources.
var tempKinds = []string{"hako-src-", "hako-source-"}

// homeTag identifies this server's HAKO_HOME in the names of its
// temporary directories.
func (e *Engine) homeTag() string {
	sum := sha256.Sum256([]byte(e.Paths.Tmp))
	return hex.EncodeToString(sum[:6])
}

// MkdirTemp makes a temporary directory in the system's temporary
// directory, named "hako-KIND-TAG.PID-RANDOM" so that a later start can
// tell whose it is (see Sweep). kind is "src" or "source".
func (e *Engine) MkdirTemp(kind string) (string, error) {
	dir, err := os.MkdirTemp("", fmt.Sprintf("hako-%s-%s.%d-*", kind, e.homeTag(), os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("create a temporary directory: %w", err)
	}
	return dir, nil
}

// Sweep removes what a server of this HAKO_HOME killed without cleaning
// up left behind, and the temporary directories of other servers whose
// process is gone. It runs at server start, before the server accepts
// pushes or starts dynos, and returns the paths it removed.
func (e *Engine) Sweep() ([]string, error) {
	var removed []string
	var errs error
	remove := func(path string) {
		if err := os.RemoveAll(path); err != nil {
			errs = errors.Join(errs, err)
			return
		}
		removed = append(removed, path)
	}
	for _, p := range staleTemps(os.TempDir(), e.homeTag(), os.Getpid(), time.Now(), processAlive) {
		remove(p)
	}
	if e.Paths.Tmp != "" {
		entries, _ := os.ReadDir(e.Paths.Tmp)
		for _, en := range entries {
			if n := en.Name(); strings.HasPrefix(n, "build-") || strings.HasPrefix(n, ".packs-") {
				remove(filepath.Join(e.Paths.Tmp, n))
			}
		}
	}
	if e.Paths.Repos != "" {
		repos, _ := filepath.Glob(filepath.Join(e.Paths.Repos, "*.git"))
		for _, repo := range repos {
			incoming, _ := filepath.Glob(filepath.Join(repo, "objects", "tmp_objdir-incoming-*"))
			if len(incoming) == 0 {
				continue
			}
			busy := gitRunningIn(repo)
			for _, dir := range incoming {
				if fi, err := os.Lstat(dir); err == nil && (!busy || time.Since(fi.ModTime()) > incomingMaxAge) {
					remove(dir)
				}
			}
		}
	}
	slugs, err := e.sweepSlugs()
	removed = append(removed, slugs...)
	errs = errors.Join(errs, err)
	sources, err := e.sweepSources()
	removed = append(removed, sources...)
	errs = errors.Join(errs, err)
	removed = append(removed, e.sweepUnpacked()...)
	return removed, errs
}

// sweepUnpacked removes the run directories of apps that no longer exist
// and collects every app's unused unpacked slugs.
func (e *Engine) sweepUnpacked() []string {
	if e.Paths.Run == "" {
		return nil
	}
	apps, err := e.Store.Apps()
	if err != nil {
		return nil
	}
	known := map[string]bool{}
	for _, a := range apps {
		known[a.Name] = true
	}
	var removed []string
	entries, _ := os.ReadDir(e.Paths.Run)
	for _, en := range entries {
		n := en.Name()
		switch {
		case strings.HasPrefix(n, "."): // the supervisor's scratch, swept by it
		case !known[n]:
			if os.RemoveAll(filepath.Join(e.Paths.Run, n)) == nil {
				removed = append(removed, filepath.Join(e.Paths.Run, n))
			}
		default:
			removed = append(removed, e.collect(n)...)
		}
	}
	return removed
}

// staleTemps returns the engine's directories in tmp that are stale: made
// by an earlier server of this home (tag), or by a server whose process
// is gone, or, for untagged ones of older versions, a day old.
func staleTemps(tmp, tag string, self int, now time.Time, alive func(pid int) bool) []string {
	entries, _ := os.ReadDir(tmp)
	var stale []string
	for _, en := range entries {
		name := en.Name()
		var rest string
		for _, k := range tempKinds {
			if r, ok := strings.CutPrefix(name, k); ok {
				rest = r
			}
		}
		if rest == "" || !en.IsDir() {
			continue
		}
		owner, _, _ := strings.Cut(rest, "-")
		t, p, tagged := strings.Cut(owner, ".")
		pid, err := strconv.Atoi(p)
		switch {
		case tagged && err == nil && pid > 0:
			if (t == tag && pid != self) || (pid != self && !alive(pid)) {
				stale = append(stale, filepath.Join(tmp, name))
			}
		default:
			if fi, err := en.Info(); err == nil && now.Sub(fi.ModTime()) > untaggedMaxAge {
				stale = append(stale, filepath.Join(tmp, name))
			}
		}
	}
	return stale
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return !errors.Is(err, os.ErrProcessDone)
}

// gitRunningIn reports whether a process works in repo (git
// receive-pack and its children run there), reading /proc; where /proc
// cannot be read it answers yes, leaving the decision to the age rule.
func gitRunningIn(repo string) bool {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	repo = filepath.Clean(repo)
	if r, err := filepath.EvalSymlinks(repo); err == nil {
		repo = r
	}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", p.Name(), "cwd"))
		if err == nil && (cwd == repo || strings.HasPrefix(cwd, repo+string(filepath.Separator))) {
			return true
		}
	}
	return false
}
