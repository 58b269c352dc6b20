package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// errReleaseNotFound is the user-facing answer for a missing release.
func errReleaseNotFound() error {
	return engine.Errorf(engine.ENOTFOUND, "Couldn't find that release.")
}

// checkNewStatus refuses a status a new release cannot start with, so that
// no record carries a status the rest of hako does not know.
func checkNewStatus(status string) error {
	switch status {
	case engine.ReleasePending, engine.ReleaseSucceeded, engine.ReleaseFailed:
		return nil
	}
	return engine.Errorf(engine.EINVALID, "Release status %q is invalid: it must be pending, succeeded or failed.", status)
}

// CreateRelease records r as the app's next version, with slug when slug is
// not nil, and makes it current when r.Status is succeeded, all in one
// transaction. The version is the last recorded one plus one, read inside
// the write transaction, so concurrent callers get distinct, increasing
// versions. r is not modified; the recorded copy is returned. An unset
// CreatedAt is filled in, slug.App defaults to r.App and r.SlugID to
// slug.ID. A slug already recorded keeps its record. A release of a
// recorded slug (slug nil, r.SlugID set) checks in the same transaction
// that the record is still there, so that slug retention never removes a
// slug a new release refers to. Returns ENOTFOUND if the app does not
// exist, EINVALID if r's slug is not recorded.
func (s *Store) CreateRelease(r *engine.Release, slug *engine.Slug) (*engine.Release, error) {
	if r == nil {
		return nil, engine.Errorf(engine.EINVALID, "A release is required.")
	}
	if err := checkNewStatus(r.Status); err != nil {
		return nil, err
	}
	rc := *r
	if rc.CreatedAt.IsZero() {
		rc.CreatedAt = now()
	}
	if rc.ID == "" {
		rc.ID = engine.NewID()
	}
	var sl *engine.Slug
	if slug != nil {
		if slug.ID == "" {
			return nil, engine.Errorf(engine.EINVALID, "A slug needs an ID.")
		}
		c := *slug
		if c.App == "" {
			c.App = rc.App
		}
		if c.CreatedAt.IsZero() {
			c.CreatedAt = rc.CreatedAt
		}
		if rc.SlugID == "" {
			rc.SlugID = c.ID
		}
		sl = &c
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		a, err := getApp(tx, rc.App)
		if err != nil {
			return err
		}
		b, err := tx.Bucket(bucketReleases).CreateBucketIfNotExists([]byte(rc.App))
		if err != nil {
			return fmt.Errorf("open releases: %w", err)
		}
		last := 0
		if k, _ := b.Cursor().Last(); k != nil {
			if last, err = keyVersion(k); err != nil {
				return err
			}
		}
		rc.Version = last + 1
		slugs := tx.Bucket(bucketSlugs)
		switch {
		case sl != nil && slugs.Get([]byte(sl.ID)) == nil:
			if err := put(slugs, []byte(sl.ID), sl); err != nil {
				return err
			}
		case sl != nil:
			// A build of the very bytes of a recorded slug: the record
			// stays its first app's, whose release it describes.
		case rc.SlugID != "" && slugs.Get([]byte(rc.SlugID)) == nil:
			// Retention removed it since the caller read it.
			return engine.Errorf(engine.EINVALID, "That slug was removed: this server keeps only the slugs of each app's latest releases (--keep-slugs).")
		}
		if err := put(b, versionKey(rc.Version), &rc); err != nil {
			return err
		}
		if rc.Status == engine.ReleaseSucceeded {
			a.CurrentRelease = rc.Version
			a.UpdatedAt = now()
			return putApp(tx, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create release of %s: %w", rc.App, err)
	}
	return &rc, nil
}

// SetReleaseStatus finishes a pending release as succeeded or failed; a
// succeeded release becomes current. Finished releases are immutable, so
// changing one again returns ECONFLICT. Returns ENOTFOUND for a missing
// app or release and EINVALID for any other target status.
func (s *Store) SetReleaseStatus(app string, version int, status string) (*engine.Release, error) {
	if status != engine.ReleaseSucceeded && status != engine.ReleaseFailed {
		return nil, engine.Errorf(engine.EINVALID, "Release status %q is invalid: a pending release can only become succeeded or failed.", status)
	}
	var r *engine.Release
	err := s.db.Update(func(tx *bolt.Tx) error {
		a, err := getApp(tx, app)
		if err != nil {
			return err
		}
		if r, err = getRelease(tx, app, version); err != nil {
			return err
		}
		if r.Status != engine.ReleasePending {
			return engine.Errorf(engine.ECONFLICT, "Release v%d of %s is already %s.", version, app, r.Status)
		}
		r.Status = status
		r.UpdatedAt = now()
		if err := put(tx.Bucket(bucketReleases).Bucket([]byte(app)), versionKey(version), r); err != nil {
			return err
		}
		if status == engine.ReleaseSucceeded {
			a.CurrentRelease = version
			a.UpdatedAt = now()
			return putApp(tx, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set status of %s v%d: %w", app, version, err)
	}
	return r, nil
}

// Release returns version of app. Returns ENOTFOUND for a missing app or
// release.
func (s *Store) Release(app string, version int) (*engine.Release, error) {
	var r *engine.Release
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := getApp(tx, app); err != nil {
			return err
		}
		var err error
		r, err = getRelease(tx, app, version)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get release %s v%d: %w", app, version, err)
	}
	return r, nil
}

// Releases returns the app's releases, newest first, as Heroku lists them.
// Returns ENOTFOUND if the app does not exist.
func (s *Store) Releases(app string) ([]*engine.Release, error) {
	var out []*engine.Release
	err := s.db.View(func(tx *bolt.Tx) error {
		if _, err := getApp(tx, app); err != nil {
			return err
		}
		b := tx.Bucket(bucketReleases).Bucket([]byte(app))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			r := new(engine.Release)
			if err := decode(k, v, r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list releases of %s: %w", app, err)
	}
	return out, nil
}

// Slug returns a slug's record. Returns ENOTFOUND.
func (s *Store) Slug(id string) (*engine.Slug, error) {
	sl := new(engine.Slug)
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bucketSlugs), []byte(id), sl)
		if err == nil && !ok {
			err = engine.Errorf(engine.ENOTFOUND, "Couldn't find that slug.")
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get slug %s: %w", id, err)
	}
	return sl, nil
}

// getRelease reads one release inside tx. Returns ENOTFOUND.
func getRelease(tx *bolt.Tx, app string, version int) (*engine.Release, error) {
	if version < 1 {
		return nil, errReleaseNotFound()
	}
	b := tx.Bucket(bucketReleases).Bucket([]byte(app))
	if b == nil {
		return nil, errReleaseNotFound()
	}
	r := new(engine.Release)
	ok, err := get(b, versionKey(version), r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errReleaseNotFound()
	}
	return r, nil
}

// assignReleaseIDs gives a UUID to every release recorded before releases
// had one, so that each is found by id as Heroku's API names it. Only the
// releases without one are rewritten, each once.
func assignReleaseIDs(tx *bolt.Tx) error {
	root := tx.Bucket(bucketReleases)
	var apps [][]byte
	err := root.ForEach(func(k, v []byte) error {
		if v == nil { // a nested bucket: one app's releases
			apps = append(apps, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, app := range apps {
		b := root.Bucket(app)
		var fix []*engine.Release
		err := b.ForEach(func(k, v []byte) error {
			r := new(engine.Release)
			if err := decode(k, v, r); err != nil {
				return err
			}
			if r.ID == "" {
				fix = append(fix, r)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("release ids of %s: %w", app, err)
		}
		for _, r := range fix {
			r.ID = engine.NewID()
			if err := put(b, versionKey(r.Version), r); err != nil {
				return err
			}
		}
	}
	return nil
}
