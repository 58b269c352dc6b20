package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Source is an upload slot made by POST /sources (Heroku's source
// upload): its put_url takes a tar.gz of an app's source, its get_url
// gives it back and names it as a build's source_blob, until ExpiresAt.
// The store keeps it and its upload lies in Paths.Sources/ID.tgz, so a
// restart loses neither the slot nor an upload acknowledged.
type Source struct {
	// ID names the upload's file; Secret is the capability in its URLs.
	ID     string `json:"id"`
	Secret string `json:"secret"`
	User   string `json:"user"`
	// Size is the bytes uploaded, -1 before the upload.
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SourceStore keeps the sources; the store implements it, one
// transaction per method.
type SourceStore interface {
	// PutSource records a source, new or changed, under its secret.
	PutSource(src *Source) error
	// DeleteSource forgets the source of that secret, if any.
	DeleteSource(secret string) error
	// Sources returns every source kept.
	Sources() ([]*Source, error)
}

// sourceStore is the store's SourceStore.
func (e *Engine) sourceStore() SourceStore {
	if s, ok := e.Store.(SourceStore); ok && e.Paths.Sources != "" {
		return s
	}
	return noSources{}
}

// noSources is the SourceStore of a store that keeps none, or of a
// layout without Sources: sources then live in a temporary directory for
// the server's life.
type noSources struct{}

func (noSources) PutSource(*Source) error     { return nil }
func (noSources) DeleteSource(string) error   { return nil }
func (noSources) Sources() ([]*Source, error) { return nil, nil }

// sourceFileRe is the name of a kept source's upload.
var sourceFileRe = regexp.MustCompile(`^[0-9a-f-]{36}\.tgz$`)

// NewSource records a source of user's waiting for its upload until
// expires and returns it with the path its upload goes to.
func (e *Engine) NewSource(secret, user string, expires time.Time) (*Source, string, error) {
	src := &Source{ID: NewID(), Secret: secret, User: user, Size: -1, CreatedAt: time.Now().UTC(), ExpiresAt: expires}
	if e.Paths.Sources == "" {
		dir, err := e.MkdirTemp("source")
		if err != nil {
			return nil, "", err
		}
		return src, filepath.Join(dir, "source.tgz"), nil
	}
	if err := os.MkdirAll(e.Paths.Sources, 0o700); err != nil {
		return nil, "", fmt.Errorf("create source: %w", err)
	}
	if err := e.SaveSource(src); err != nil {
		return nil, "", err
	}
	return src, e.SourcePath(src), nil
}

// SourcePath is where a kept source's upload lies.
func (e *Engine) SourcePath(src *Source) string {
	return filepath.Join(e.Paths.Sources, src.ID+".tgz")
}

// SaveSource records a source, new or changed (its upload arrived).
func (e *Engine) SaveSource(src *Source) error { return e.sourceStore().PutSource(src) }

// DropSource forgets a source once it expired, with its upload at path.
func (e *Engine) DropSource(src *Source, path string) {
	if err := e.sourceStore().DeleteSource(src.Secret); err != nil {
		e.logf("forget source %s: %v", src.ID, err)
	}
	if path == "" {
		return
	}
	_ = os.Remove(path + ".part")
	_ = os.Remove(path)
	if e.Paths.Sources == "" || filepath.Dir(path) != filepath.Clean(e.Paths.Sources) {
		_ = os.RemoveAll(filepath.Dir(path)) // a temporary directory of its own
	}
}

// Sources returns the sources a restart found unexpired, with the paths
// of their uploads, and drops the others.
func (e *Engine) Sources() ([]*Source, error) {
	all, err := e.sourceStore().Sources()
	if err != nil {
		return nil, err
	}
	var live []*Source
	now := time.Now()
	for _, src := range all {
		if now.After(src.ExpiresAt) || !sourceFileRe.MatchString(src.ID+".tgz") {
			e.DropSource(src, e.SourcePath(src))
			continue
		}
		if src.Size >= 0 {
			if _, err := os.Stat(e.SourcePath(src)); err != nil {
				src.Size = -1 // its upload is gone: it takes one again
			}
		}
		live = append(live, src)
	}
	return live, nil
}

// sweepSources, at a start, removes the uploads of sources expired or
// forgotten (a crash between a record's deletion and its file's) and
// uploads a stop interrupted; those of sources still waiting stay until
// they expire.
func (e *Engine) sweepSources() ([]string, error) {
	if e.Paths.Sources == "" {
		return nil, nil
	}
	all, err := e.sourceStore().Sources()
	if err != nil {
		return nil, fmt.Errorf("sweep sources: %w", err)
	}
	keep := map[string]bool{}
	now := time.Now()
	for _, src := range all {
		if !now.After(src.ExpiresAt) {
			keep[src.ID+".tgz"] = true
		}
	}
	entries, err := os.ReadDir(e.Paths.Sources)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep sources: %w", err)
	}
	var removed []string
	var errs error
	for _, en := range entries {
		if keep[en.Name()] {
			continue
		}
		p := filepath.Join(e.Paths.Sources, en.Name())
		if err := os.RemoveAll(p); err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	return removed, errs
}
