package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
)

// Unpacked slugs. Dynos run from a slug unpacked once into RUN/APP/SLUG
// and shared read-only by every dyno of every release with that slug: a
// config change or a rollback to a slug still on disk unpacks nothing.
// A directory is removed (collected) when no dyno uses it and its slug is
// neither the current release's nor the previous one's, which stays for a
// fast rollback. Collection runs after each release, when a one-off or
// release-phase dyno ends, and at server start (Sweep).
//
// "Uses" counts three holders, any of which keeps a directory:
//   - a pin, taken by unpack and dropped by its done function, which
//     covers the time between unpacking and the dynos being recorded,
//     and the whole life of one-off and release-phase dynos;
//   - a formation dyno the engine runs (its spec.Dir);
//   - a dyno the supervisor has not finished stopping (DirUser), since
//     old dynos stop after they leave the engine's table.

// DirUser is implemented by supervisors that can tell which slug
// directories their dynos use, including dynos still stopping.
type DirUser interface {
	DirsInUse() []string
}

// unpackedDirs is the engine's bookkeeping of unpacked slugs.
type unpackedDirs struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex // per app: unpacking and collecting
	pins  map[string]int         // directory → holders
}

// slugIDPattern is the shape of the slug ids the builder makes (a
// sha256), checked before an id becomes a path.
var slugIDPattern = regexp.MustCompile(`^[0-9a-f]{16,128}$`)

// appDirLock serialises unpacking and collecting in one app's directory.
func (e *Engine) appDirLock(app string) func() {
	u := &e.unpacked
	u.mu.Lock()
	m, ok := u.locks[app]
	if !ok {
		m = &sync.Mutex{}
		u.locks[app] = m
	}
	u.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (e *Engine) pin(dir string, delta int) {
	u := &e.unpacked
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pins[dir] += delta
	if u.pins[dir] <= 0 {
		delete(u.pins, dir)
	}
}

// unpack returns the directory of app's slug, extracting it first if no
// release has yet (a half-extracted tree never takes the final name).
// The directory is pinned until done is called; done then collects the
// app's directories no longer needed. Callers call done once the dynos
// they start from dir are in the engine's table, or have ended.
func (e *Engine) unpack(app, slugID string) (dir string, done func(), err error) {
	if !slugIDPattern.MatchString(slugID) {
		return "", nil, fmt.Errorf("unpack slug of %s: malformed slug id %q", app, slugID)
	}
	dir = filepath.Join(e.Paths.AppRun(app), slugID)
	uid, gid, err := e.identity(app)
	if err != nil {
		return "", nil, err
	}
	unlock := e.appDirLock(app)
	defer unlock()
	if _, err := os.Stat(dir); err != nil {
		if err := e.extract(app, slugID, dir, uid, gid); err != nil {
			return "", nil, err
		}
	} else if p, ok := e.Supervisor.(DirPreparer); ok {
		// Unpacked by an older server, it may belong to another user.
		if err := p.PrepareDir(dir, uid, gid); err != nil {
			return "", nil, err
		}
	}
	e.pin(dir, 1)
	var once sync.Once
	return dir, func() {
		once.Do(func() {
			e.pin(dir, -1)
			e.collect(app)
		})
	}, nil
}

// extract unpacks a slug into dir through a temporary name, and gives it
// to the app's user (uid:gid) when the supervisor runs dynos as another
// user.
func (e *Engine) extract(app, slugID, dir string, uid, gid int) error {
	if err := privateRunDir(filepath.Dir(dir), gid); err != nil {
		return fmt.Errorf("prepare run directory of %s: %w", app, err)
	}
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := e.unpackAs(slugID, tmp, uid, gid); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("unpack slug %s of %s: %w", slugID, app, err)
	}
	if p, ok := e.Supervisor.(DirPreparer); ok {
		if err := p.PrepareDir(tmp, uid, gid); err != nil {
			_ = os.RemoveAll(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("unpack slug %s of %s: %w", slugID, app, err)
	}
	return nil
}

// unpackAs unpacks a slug into dest, giving it to whom the supervisor's
// PrepareDir would as it writes each file, when both sides can.
func (e *Engine) unpackAs(slugID, dest string, uid, gid int) error {
	if o, ok := e.Supervisor.(DirOwner); ok {
		if ou, ok := e.Builder.(OwnedUnpacker); ok {
			if ouid, ogid, ok := o.DirOwner(uid, gid); ok {
				return ou.UnpackOwned(slugID, dest, ouid, ogid)
			}
		}
	}
	return e.Builder.Unpack(slugID, dest)
}

// privateRunDir creates an app's run directory, open to the server and
// to the app's group (gid, whose dynos reach their slug through it) only:
// another host user can neither list nor enter it. Where it cannot be
// given to gid (a server not running as root, whose dynos run as itself,
// or gid 0), only the server's user may enter it.
func privateRunDir(dir string, gid int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	mode := os.FileMode(0o700)
	if gid > 0 && os.Chown(dir, os.Getuid(), gid) == nil {
		mode = 0o750
	}
	return os.Chmod(dir, mode)
}

// collect removes the app's unpacked directories that nothing needs any
// more (see unpackedToRemove) and returns them. Failures are logged to
// the app's log: a directory left behind costs disk, never correctness.
func (e *Engine) collect(app string) []string {
	a, err := e.Store.App(app)
	if err != nil {
		return nil // destroyed: DestroyApp removes the whole directory
	}
	rels, err := e.Store.Releases(app)
	if err != nil {
		return nil
	}
	// A release whose slug retention removed is no rollback target: its
	// tree need not stay as the previous one.
	if recorded, err := e.Store.SlugIDs(); err == nil {
		for i, r := range rels {
			if r.SlugID != "" && !recorded[r.SlugID] {
				c := *r
				c.SlugID = ""
				rels[i] = &c
			}
		}
	}
	unlock := e.appDirLock(app)
	defer unlock()
	base := e.Paths.AppRun(app)
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(entries))
	for _, en := range entries {
		names = append(names, en.Name())
	}
	var removed []string
	for _, name := range unpackedToRemove(names, a.CurrentRelease, rels, e.dirsInUse(base)) {
		if err := os.RemoveAll(filepath.Join(base, name)); err != nil {
			e.log(app, "api", "Could not remove the unused unpacked slug %s: %v", name, err)
			continue
		}
		removed = append(removed, filepath.Join(base, name))
	}
	return removed
}

// dirsInUse returns the names of the entries of base (an app's run
// directory) that a pin, a running dyno or a stopping one holds.
func (e *Engine) dirsInUse(base string) map[string]bool {
	used := map[string]bool{}
	for _, d := range e.allDirsInUse() {
		if d != "" && filepath.Dir(filepath.Clean(d)) == base {
			used[filepath.Base(d)] = true
		}
	}
	return used
}

// allDirsInUse returns the slug directories, of any app, that a pin, a
// running dyno or a stopping one holds.
func (e *Engine) allDirsInUse() []string {
	var dirs []string
	e.unpacked.mu.Lock()
	for d := range e.unpacked.pins {
		dirs = append(dirs, d)
	}
	e.unpacked.mu.Unlock()
	e.mu.Lock()
	for _, ins := range e.running {
		for _, in := range ins {
			dirs = append(dirs, in.spec.Dir)
		}
	}
	e.mu.Unlock()
	if u, ok := e.Supervisor.(DirUser); ok {
		dirs = append(dirs, u.DirsInUse()...)
	}
	return dirs
}

// unpackedToRemove is the collection rule: of the entries of an app's run
// directory, every one goes except those in use, the current release's
// slug and the previous one: the slug of the newest earlier release that
// did not fail and has another slug, so that rolling back to what ran
// before starts at once. Unknown entries (a half-extracted tree, the
// per-version directories of older hako versions) go too unless in use.
func unpackedToRemove(entries []string, current int, releases []*Release, inUse map[string]bool) []string {
	keep := map[string]bool{}
	for n := range inUse {
		keep[n] = true
	}
	var cur string
	byVersion := append([]*Release(nil), releases...)
	sort.Slice(byVersion, func(i, j int) bool { return byVersion[i].Version > byVersion[j].Version })
	for _, r := range byVersion {
		if r.Version == current {
			cur = r.SlugID
			keep[cur] = true
		}
	}
	for _, r := range byVersion {
		if r.Version < current && r.SlugID != "" && r.SlugID != cur && r.Status != ReleaseFailed && r.Status != ReleasePending {
			keep[r.SlugID] = true
			break
		}
	}
	var out []string
	for _, n := range entries {
		if n != "" && !keep[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
