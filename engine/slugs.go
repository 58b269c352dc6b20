package engine

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// slugFileRe is the shape of a stored slug's id: the sha256 of its file.
var slugFileRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ImportedSlug is a slug file a client uploaded (Heroku's slug import):
// stored under its sha256, not yet recorded, which a release does.
type ImportedSlug struct {
	ID   string
	Size int64
	// Checksum is the uploaded archive's, "SHA256:<hex>".
	Checksum string
	// StoredSize and StoredChecksum are the stored archive's, the slug's
	// record and blob: the upload's, unless it was in Heroku's shape
	// and stored in hako's (see slugshape.go).
	StoredSize     int64
	StoredChecksum string
}

// ImportSlug stores an uploaded slug, a tar.gz of the app's directory as
// the builder makes them (and as OpenSlug exports them). Its id is the
// sha256 of the archive's sha256 and salt (the import's own id), so that
// each import is a slug of its own, with its own process types, even when
// its archive is another slug's.
// It takes at most the slug limit, compressed, and checks that the archive
// reads whole within the build limit, so that a release of it unpacks.
// An archive in Heroku's shape (the app under ./app) is stored in hako's,
// its files at the root (see slugshape.go); its id still derives from the
// uploaded archive's sha256.
// Nothing is recorded: ReleaseSlug does that. Returns EINVALID.
func (e *Engine) ImportSlug(r io.Reader, salt string) (*ImportedSlug, error) {
	if e.Paths.Slugs == "" {
		return nil, Errorf(EINVALID, "This server keeps no slugs.")
	}
	lim := e.Limits.WithDefaults()
	tmp, err := os.CreateTemp(e.Paths.Slugs, ".import-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("import slug: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, lim.SlugBytes+1))
	if err != nil {
		return nil, Errorf(EINVALID, "The slug upload did not arrive whole: %v", err)
	}
	if n > lim.SlugBytes {
		return nil, Errorf(EINVALID, "The slug is larger than this server allows (%d MB compressed).", lim.SlugBytes>>20)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("import slug: %w", err)
	}
	heroku, linked, err := checkSlugArchive(tmp, lim.BuildBytes, 4*lim.SourceEntries)
	if err != nil {
		return nil, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	got := &ImportedSlug{Size: n, Checksum: "SHA256:" + sum, StoredSize: n, StoredChecksum: "SHA256:" + sum}
	stored := tmp
	if heroku && !isHakoSlug(tmp) {
		if stored, err = e.rewriteImport(tmp, linked, got, lim); err != nil {
			return nil, err
		}
		defer func() {
			stored.Close()
			os.Remove(stored.Name())
		}()
	}
	if err := stored.Sync(); err != nil {
		return nil, fmt.Errorf("import slug: %w", err)
	}
	if err := os.Chmod(stored.Name(), 0o644); err != nil {
		return nil, fmt.Errorf("import slug: %w", err)
	}
	idSum := sha256.Sum256([]byte(sum + "\x00" + salt))
	got.ID = hex.EncodeToString(idSum[:])
	if err := os.Rename(stored.Name(), filepath.Join(e.Paths.Slugs, got.ID+".tgz")); err != nil {
		return nil, fmt.Errorf("import slug: %w", err)
	}
	return got, nil
}

// checkSlugArchive reads a tar.gz through, refusing one that is not, or
// that expands past maxBytes or maxEntries, and reports whether its
// entries all lie under app/, Heroku's shape (see slugshape.go), and
// which of its files, named in hako's shape, hard links name.
// Unpacking checks each entry's name and kind again; this only makes sure
// a release of it can unpack.
func checkSlugArchive(r io.Reader, maxBytes int64, maxEntries int) (heroku bool, linked map[string]bool, err error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return false, nil, Errorf(EINVALID, "The slug is not a tar.gz: %v", err)
	}
	tr := tar.NewReader(gz)
	var total int64
	var shape shapeProbe
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return shape.heroku(), shape.linked, nil
		}
		if err != nil {
			return false, nil, Errorf(EINVALID, "The slug is not a usable tar.gz: %v", err)
		}
		if n >= maxEntries {
			return false, nil, Errorf(EINVALID, "The slug holds more than %d files.", maxEntries)
		}
		total += max(hdr.Size, 0)
		if total > maxBytes {
			return false, nil, Errorf(EINVALID, "The slug expands to more than %d MiB.", maxBytes>>20)
		}
		shape.see(hdr)
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return false, nil, Errorf(EINVALID, "The slug is not a usable tar.gz: %v", err)
		}
	}
}

// OpenSlug opens a stored slug's file, for export. The caller closes it.
// Returns ENOTFOUND.
func (e *Engine) OpenSlug(id string) (*os.File, error) {
	if !slugFileRe.MatchString(id) || e.Paths.Slugs == "" {
		return nil, Errorf(ENOTFOUND, "Couldn't find that slug.")
	}
	f, err := os.Open(filepath.Join(e.Paths.Slugs, id+".tgz"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Errorf(ENOTFOUND, "Couldn't find that slug.")
	}
	if err != nil {
		return nil, fmt.Errorf("open slug %s: %w", id, err)
	}
	return f, nil
}

// ForgetImport removes an imported slug's file that no release took up.
func (e *Engine) ForgetImport(id string) {
	if !slugFileRe.MatchString(id) || e.Paths.Slugs == "" {
		return
	}
	e.slugs.mu.Lock()
	defer e.slugs.mu.Unlock()
	if _, err := e.Store.Slug(id); ErrorCode(err) == ENOTFOUND {
		_ = os.Remove(filepath.Join(e.Paths.Slugs, id+".tgz"))
	}
}

// SlugRelease is a release of a slug (Heroku's POST /apps/APP/releases
// {"slug": ID}): a stored one, or one imported and described here.
type SlugRelease struct {
	App, User string
	// SlugID names a recorded slug; Import, when set, is an imported
	// one, recorded with the release.
	SlugID string
	Import *Slug
	// Description, when set, replaces "Deploy COMMIT".
	Description string
	Out         io.Writer
}

// ReleaseSlug makes a release of a slug with the app's current config
// vars and moves the app onto it, as a deploy does without a build: the
// release phase, then the formation's dynos. Returns EINVALID or
// ENOTFOUND.
func (e *Engine) ReleaseSlug(ctx context.Context, req SlugRelease) (*Release, error) {
	if _, err := e.App(req.App); err != nil {
		return nil, err
	}
	var newSlug *Slug
	if req.Import != nil {
		if err := ValidateProcessTypes(req.Import.ProcessTypes); err != nil {
			return nil, err
		}
		c := *req.Import
		c.App, c.Stack = req.App, Stack
		if c.CreatedAt.IsZero() {
			c.CreatedAt = time.Now().UTC()
		}
		newSlug, req.SlugID = &c, c.ID
	} else if _, err := e.Store.Slug(req.SlugID); err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return nil, Errorf(ENOTFOUND, "Couldn't find that slug: %s.", req.SlugID)
		}
		return nil, err
	}
	unlock, err := e.lockFor(ctx, req.App, "a slug release", req.Out)
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := req.Out
	if out == nil {
		out = io.Discard
	}
	app, err := e.Store.App(req.App)
	if err != nil {
		return nil, err
	}
	cur, err := e.Store.Release(app.Name, app.CurrentRelease)
	if err != nil {
		return nil, fmt.Errorf("read current release of %s: %w", app.Name, err)
	}
	slug := newSlug
	if slug == nil {
		if slug, err = e.Store.Slug(req.SlugID); err != nil {
			return nil, fmt.Errorf("read slug of %s: %w", app.Name, err)
		}
	}
	desc := req.Description
	if desc == "" {
		desc = strings.TrimSpace("Deploy " + shortCommit(slug.Commit))
	}
	rel := &Release{App: app.Name, Description: desc, User: req.User, CreatedAt: time.Now().UTC(),
		SlugID: slug.ID, Config: cur.Config}
	return e.commit(ctx, app, rel, slug, newSlug, out)
}
