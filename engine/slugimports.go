package engine

import "time"

// SlugImport is a slug announced by POST /apps/APP/slugs (Heroku's slug
// import), waiting for its archive and a release of it until ExpiresAt.
// The store keeps it, so that a restart loses neither the announcement
// (its blob URL still takes the archive) nor an archive already
// uploaded (a release of it still finds it).
type SlugImport struct {
	ID string `json:"id"`
	// Secret is the capability in the import's blob URL.
	Secret string `json:"secret"`
	// AppID is the app's id: a name may pass to another app.
	AppID string `json:"app_id"`
	App   string `json:"app"`
	User  string `json:"user"`
	// Description and CommitDescription are the import's
	// buildpack_provided_description and commit_description; Want is
	// the checksum its client announced, Uploaded the archive's.
	Description       string    `json:"description,omitempty"`
	CommitDescription string    `json:"commit_description,omitempty"`
	Want              string    `json:"want,omitempty"`
	Uploaded          string    `json:"uploaded,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	ExpiresAt         time.Time `json:"expires_at"`
	// Slug is the slug to record; its ID is set once the archive arrived.
	Slug Slug `json:"slug"`
}

// SlugImportStore keeps the slug imports; the store implements it, one
// transaction per method.
type SlugImportStore interface {
	// PutSlugImport records an import, new or changed, under its secret.
	PutSlugImport(im *SlugImport) error
	// DeleteSlugImport forgets the import of that secret, if any.
	DeleteSlugImport(secret string) error
	// SlugImports returns every import kept.
	SlugImports() ([]*SlugImport, error)
}

// slugImports is the store's SlugImportStore.
func (e *Engine) slugImports() SlugImportStore {
	if s, ok := e.Store.(SlugImportStore); ok {
		return s
	}
	return noSlugImports{}
}

// noSlugImports is the SlugImportStore of a store that keeps none.
type noSlugImports struct{}

func (noSlugImports) PutSlugImport(*SlugImport) error     { return nil }
func (noSlugImports) DeleteSlugImport(string) error       { return nil }
func (noSlugImports) SlugImports() ([]*SlugImport, error) { return nil, nil }

// SaveSlugImport records an import, new or changed.
func (e *Engine) SaveSlugImport(im *SlugImport) error { return e.slugImports().PutSlugImport(im) }

// DropSlugImport forgets an import once it expired, with its archive
// unless a release took it up.
func (e *Engine) DropSlugImport(im *SlugImport) {
	if err := e.slugImports().DeleteSlugImport(im.Secret); err != nil {
		e.logf("forget slug import %s of %s: %v", im.ID, im.App, err)
	}
	e.ForgetImport(im.Slug.ID)
}

// SlugImports returns the imports a restart found unexpired, of apps that
// still exist under the same id, and drops the others.
func (e *Engine) SlugImports() ([]*SlugImport, error) {
	all, err := e.slugImports().SlugImports()
	if err != nil {
		return nil, err
	}
	var live []*SlugImport
	now := time.Now()
	for _, im := range all {
		if a, err := e.Store.App(im.App); err != nil || a.ID != im.AppID || now.After(im.ExpiresAt) {
			e.DropSlugImport(im)
			continue
		}
		live = append(live, im)
	}
	return live, nil
}

// importedSlugIDs are the archives of the kept imports, which a start's
// sweep of slug files keeps.
func (e *Engine) importedSlugIDs() []string {
	all, err := e.slugImports().SlugImports()
	if err != nil {
		e.logf("start: read the slug imports: %v", err)
		return nil
	}
	var ids []string
	for _, im := range all {
		if im.Slug.ID != "" {
			ids = append(ids, im.Slug.ID)
		}
	}
	return ids
}
