package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Slug retention. Every push (and every slug release) stores a slug of up
// to --max-slug; kept for good, a loop of pushes fills the disk. After
// each release the engine therefore removes the slugs no app retains:
// each app retains the slugs of its newest BuildLimits.KeepSlugs
// succeeded releases (counting each slug once, so that config changes,
// which reuse the current slug, push nothing out), its current release's
// and those of releases in progress. A slug shared with another app (a
// pipeline's promotion, a release of another app's slug) stays while
// that app retains it; one a dyno runs from stays until the dyno is gone.
//
// The store decides, in one transaction, and deletes the records; the
// files go after. A crash in between leaves files no record names, which
// the next start removes (sweepSlugFiles), never a record without its
// file. Release records stay (a rollback to one whose slug went is
// refused, naming the limit), up to MaxReleaseRecords per app.

// DefaultKeepSlugs is how many slugs of succeeded releases each app
// keeps by default (--keep-slugs).
const DefaultKeepSlugs = 20

// MaxReleaseRecords bounds the release records kept per app: the oldest
// past it are deleted (never the current one). It bounds --keep-slugs.
const MaxReleaseRecords = 1000

// sweepSlugsFor bounds the start's sweep of orphan slug files, so that a
// home with very many of them does not hold the start up: what is left
// goes at the next start.
const sweepSlugsFor = 30 * time.Second

// ReleaseRef is what retention reads of a release record.
type ReleaseRef struct {
	Version int    `json:"version"`
	SlugID  string `json:"slug_id"`
	Status  string `json:"status"`
}

// Retention is the rule applied to one app's releases, given newest
// first to Add.
type Retention struct {
	current, keep int
	counted, kept map[string]bool
}

// NewRetention starts the rule for an app whose current release is
// current, keeping keep slugs of succeeded releases.
func NewRetention(current, keep int) *Retention {
	return &Retention{current: current, keep: keep, counted: map[string]bool{}, kept: map[string]bool{}}
}

// Add takes the next older release and reports whether an older one
// could still be retained: false once keep slugs are counted and the
// current release is passed.
func (r *Retention) Add(rel ReleaseRef) bool {
	if id := rel.SlugID; id != "" {
		if rel.Version == r.current || rel.Status == ReleasePending {
			r.kept[id] = true
		}
		if rel.Status == ReleaseSucceeded && !r.counted[id] && len(r.counted) < r.keep {
			r.counted[id], r.kept[id] = true, true
		}
	}
	return len(r.counted) < r.keep || rel.Version > r.current
}

// Kept returns the ids of the slugs retained.
func (r *Retention) Kept() map[string]bool { return r.kept }

// keepSlugs is the configured number of slugs kept per app.
func (e *Engine) keepSlugs() int {
	return min(e.Limits.WithDefaults().KeepSlugs, MaxReleaseRecords)
}

// slugGuard serialises what removes a slug's file with what records a
// new one: a build of the very same bytes as a slug being removed gets
// that slug's id (slugs are named by their sha256).
type slugGuard struct{ mu sync.Mutex }

// retainSlugs applies the retention rule after a release of app and
// removes the files of the slugs it let go. Failures are logged: a slug
// left behind costs disk, and the next release or start tries again.
func (e *Engine) retainSlugs(app string) {
	ids, err := e.Store.PruneSlugs(app, e.keepSlugs(), e.slugsInUse())
	if err != nil {
		e.logf("%s: slug retention: %v", app, err)
		return
	}
	e.removeSlugFiles(ids)
}

// removeSlugFiles removes the files and unpacked trees of slugs whose
// records are gone; one recorded again meanwhile (a build of the same
// bytes) stays.
func (e *Engine) removeSlugFiles(ids []string) {
	if len(ids) == 0 {
		return
	}
	e.slugs.mu.Lock()
	defer e.slugs.mu.Unlock()
	for _, id := range ids {
		if _, err := e.Store.Slug(id); ErrorCode(err) != ENOTFOUND {
			continue
		}
		if err := e.Builder.RemoveSlug(id); err != nil {
			e.logf("remove slug %s: %v", id, err)
		}
		e.removeUnpacked(id)
	}
}

// dropUnrecorded removes the file of a slug no release took up (a build
// whose deploy failed before it was recorded), unless a record names its
// id: an earlier build of the same bytes.
func (e *Engine) dropUnrecorded(id string) {
	e.slugs.mu.Lock()
	defer e.slugs.mu.Unlock()
	if _, err := e.Store.Slug(id); ErrorCode(err) == ENOTFOUND {
		_ = e.Builder.RemoveSlug(id)
	}
}

// recordSlug runs create, which records a new slug with its release,
// once sure the slug's file is still there: a slug of the same bytes let
// go meanwhile took it. Returns EBUILD when it is gone.
func (e *Engine) recordSlug(id string, create func() error) error {
	e.slugs.mu.Lock()
	defer e.slugs.mu.Unlock()
	if k, ok := e.Builder.(SlugKeeper); ok && !k.HasSlug(id) {
		return Errorf(EBUILD, "The slug was removed before it could be released: push again.")
	}
	return create()
}

// SlugKeeper is implemented by builders that can tell whether a slug's
// file exists.
type SlugKeeper interface {
	HasSlug(id string) bool
}

// removeUnpacked removes the unpacked trees of a slug, in every app's run
// directory (a promotion unpacks it under the target's), unless a dyno
// uses one.
func (e *Engine) removeUnpacked(id string) {
	if e.Paths.Run == "" || !slugIDPattern.MatchString(id) {
		return
	}
	entries, _ := os.ReadDir(e.Paths.Run)
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), ".") {
			continue
		}
		base := filepath.Join(e.Paths.Run, en.Name())
		if _, err := os.Lstat(filepath.Join(base, id)); err != nil {
			continue
		}
		func() {
			defer e.appDirLock(en.Name())()
			if e.dirsInUse(base)[id] {
				return
			}
			if err := os.RemoveAll(filepath.Join(base, id)); err != nil {
				e.logf("remove unpacked slug %s of %s: %v", id, en.Name(), err)
			}
		}()
	}
}

// slugsInUse returns the ids of the slugs a dyno runs from (or is about
// to: a pinned directory), whatever the app.
func (e *Engine) slugsInUse() map[string]bool {
	ids := map[string]bool{}
	if e.Paths.Run == "" {
		return ids
	}
	for _, d := range e.allDirsInUse() {
		d = filepath.Clean(d)
		if filepath.Dir(filepath.Dir(d)) == filepath.Clean(e.Paths.Run) {
			ids[filepath.Base(d)] = true
		}
	}
	return ids
}

// errSlugRemoved is the refusal of a release of a slug retention removed.
func (e *Engine) errSlugRemoved(app string, version int) error {
	return Errorf(EINVALID, "%s Deploy that code again to run it.", e.slugRemoved(app, version))
}

// SlugRemovedError is the answer to a request for the slug of release
// version of app (0: unknown) that retention removed, in a rollback's words, so an
// export says why it has nothing to write. Returns ENOTFOUND.
func (e *Engine) SlugRemovedError(app string, version int) error {
	return Errorf(ENOTFOUND, "%s Deploy that code again to export it.", e.slugRemoved(app, version))
}

// slugRemoved says the slug of release version of app (0: a slug not
// named by release) was removed, and what this server keeps.
func (e *Engine) slugRemoved(app string, version int) string {
	if version == 0 {
		return fmt.Sprintf("That slug was removed: this server keeps the slugs of each app's last %d deploys and of its current release (--keep-slugs).", e.keepSlugs())
	}
	return fmt.Sprintf("The slug of v%d of %s was removed: this server keeps the slugs of each app's last %d deploys and of its current release (--keep-slugs).", version, app, e.keepSlugs())
}

// sweepSlugs, at a start, applies the retention rule to every app (the
// limit may have been lowered, or the store be older than the rule),
// then removes the slug files no record names: those of a crash between
// a record's deletion and its file's, of a build killed before its
// release, of imports that expired unreleased. It stops after sweepSlugsFor.
func (e *Engine) sweepSlugs() ([]string, error) {
	if e.Paths.Slugs == "" {
		return nil, nil
	}
	deadline := time.Now().Add(sweepSlugsFor)
	apps, err := e.Store.Apps()
	if err != nil {
		return nil, err
	}
	var errs error
	for _, a := range apps {
		// No dyno runs yet: nothing is in use.
		if _, err := e.Store.PruneSlugs(a.Name, e.keepSlugs(), nil); err != nil {
			errs = errors.Join(errs, err)
		}
	}
	ids, err := e.Store.SlugIDs()
	if err != nil {
		return nil, errors.Join(errs, err)
	}
	for _, id := range e.importedSlugIDs() {
		ids[id] = true // uploaded, not released yet: the import keeps it
	}
	removed, err := sweepSlugFiles(e.Paths.Slugs, ids, deadline)
	return removed, errors.Join(errs, err)
}

// sweepSlugFiles removes from dir the slug files (ID.tgz) whose id is not
// in recorded, and the temporary files of slugs being written or
// uploaded (.slug-*.tmp, .import-*.tmp) of a server that is gone, until
// deadline. It reads the directory a batch at a time.
func sweepSlugFiles(dir string, recorded map[string]bool, deadline time.Time) ([]string, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep slugs: %w", err)
	}
	defer f.Close()
	var removed []string
	var errs error
	for time.Now().Before(deadline) {
		entries, err := f.ReadDir(256)
		for _, en := range entries {
			name := en.Name()
			id, isSlug := strings.CutSuffix(name, ".tgz")
			orphan := isSlug && slugFileRe.MatchString(id) && !recorded[id]
			temp := strings.HasSuffix(name, ".tmp") && (strings.HasPrefix(name, ".slug-") || strings.HasPrefix(name, ".import-"))
			if !orphan && !temp {
				continue
			}
			p := filepath.Join(dir, name)
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = errors.Join(errs, err)
				continue
			}
			removed = append(removed, p)
		}
		if errors.Is(err, io.EOF) {
			return removed, errs
		}
		if err != nil {
			return removed, errors.Join(errs, fmt.Errorf("sweep slugs: %w", err))
		}
	}
	return removed, errors.Join(errs, fmt.Errorf("sweep slugs: stopped after %s; the rest goes at the next start", sweepSlugsFor))
}
