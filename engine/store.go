package engine

// Store keeps what must survive a restart: apps, releases, slugs' index,
// formation and keys. Every method is one transaction, so a crash between
// two calls leaves a consistent store.
type Store interface {
	// CreateApp records app together with its first release (v1).
	// Returns ECONFLICT if the name is taken.
	CreateApp(app *App, first *Release) error
	// App returns the app named name. Returns ENOTFOUND if there is none.
	App(name string) (*App, error)
	// Apps returns every app, sorted by name.
	Apps() ([]*App, error)
	// DeleteApp removes the app, its releases, formation and slug records,
	// and returns the slug IDs it held so their files can be removed.
	// Returns ENOTFOUND if there is no such app.
	DeleteApp(name string) (slugIDs []string, err error)

	// CreateRelease gives r the app's next version and records it, with
	// slug when slug is not nil. When r.Status is succeeded the release
	// becomes current in the same transaction. Returns ENOTFOUND.
	CreateRelease(r *Release, slug *Slug) (*Release, error)
	// SetReleaseStatus changes a pending release to succeeded or failed,
	// making it current when it succeeded. Returns ENOTFOUND.
	SetReleaseStatus(app string, version int, status string) (*Release, error)
	// Release returns one release. Returns ENOTFOUND.
	Release(app string, version int) (*Release, error)
	// Releases returns the app's releases, newest first.
	Releases(app string) ([]*Release, error)
	// Slug returns a slug's record. Returns ENOTFOUND.
	Slug(id string) (*Slug, error)
	// PruneSlugs applies the retention rule (see Retention) after a
	// release of app: it trims the app's release records to
	// MaxReleaseRecords, deletes the records of the slugs no app retains
	// and inUse does not name, and returns their ids, whose files the
	// caller removes. Returns ENOTFOUND.
	PruneSlugs(app string, keep int, inUse map[string]bool) ([]string, error)
	// SlugIDs returns the ids of every recorded slug.
	SlugIDs() (map[string]bool, error)

	// SetFormation replaces the app's formation. Returns ENOTFOUND.
	SetFormation(app string, formation map[string]int) error
	// UpdateApp applies fn to the app's record in one transaction (fn's
	// error aborts it) and returns the stored result. Returns ENOTFOUND.
	UpdateApp(name string, fn func(*App) error) (*App, error)

	// AddKey records a public key. Returns ECONFLICT if its fingerprint is
	// registered already.
	AddKey(k *Key) error
	// Keys returns every key, oldest first.
	Keys() ([]*Key, error)
	// KeyByFingerprint returns the key with that fingerprint. Returns ENOTFOUND.
	KeyByFingerprint(fp string) (*Key, error)
	// DeleteKey removes the key whose ID, fingerprint or comment is
	// idOrName, among those of the user owner ("": anyone's). Returns
	// ENOTFOUND.
	DeleteKey(owner, idOrName string) error

	// Close releases the database.
	Close() error
}
