package store

import (
	"errors"
	"fmt"
	"maps"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"hako/engine"
)

// errAppNotFound is the user-facing answer for any lookup of a missing app,
// worded as Heroku words it.
func errAppNotFound() error {
	return engine.Errorf(engine.ENOTFOUND, "Couldn't find that app.")
}

// CreateApp records app and its first release in one transaction, so an app
// never exists without a v1. first gets Version 1 and App set to app.Name;
// it becomes current when its status is succeeded. Unset timestamps are
// filled in. On success the recorded values are copied back into app and
// first, since the interface returns nothing else. first may be nil for an
// app without history. The app gets a uid no other app has (app.UID is
// ignored). Returns ECONFLICT if the name is taken or no uid is left.
func (s *Store) CreateApp(app *engine.App, first *engine.Release) error {
	if app == nil || app.Name == "" {
		return engine.Errorf(engine.EINVALID, "An app needs a name.")
	}
	a := *app
	a.Formation = maps.Clone(app.Formation)
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	var r *engine.Release
	if first != nil {
		rc := *first
		rc.App = a.Name
		rc.Version = 1
		if rc.ID == "" {
			rc.ID = engine.NewID()
		}
		if err := checkNewStatus(rc.Status); err != nil {
			return err
		}
		if rc.CreatedAt.IsZero() {
			rc.CreatedAt = a.CreatedAt
		}
		r = &rc
		a.CurrentRelease = 0
		if r.Status == engine.ReleaseSucceeded {
			a.CurrentRelease = 1
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		apps := tx.Bucket(bucketApps)
		if apps.Get([]byte(a.Name)) != nil {
			return engine.Errorf(engine.ECONFLICT, "Name %s is already taken", a.Name)
		}
		used, err := usedUIDs(tx)
		if err != nil {
			return err
		}
		if a.UID, err = allocUID(tx, used, a.Name); err != nil {
			return err
		}
		if err := put(apps, []byte(a.Name), &a); err != nil {
			return err
		}
		// A bucket left behind by some earlier failure must not leak old
		// versions into the new app's history.
		if err := deleteReleases(tx, a.Name); err != nil {
			return err
		}
		if r == nil {
			return nil
		}
		rb, err := tx.Bucket(bucketReleases).CreateBucket([]byte(a.Name))
		if err != nil {
			return fmt.Errorf("create releases of %s: %w", a.Name, err)
		}
		return put(rb, versionKey(1), r)
	})
	if err != nil {
		return fmt.Errorf("create app %s: %w", a.Name, err)
	}
	*app = a
	if first != nil {
		*first = *r
	}
	return nil
}

// App returns the app named name. Returns ENOTFOUND if there is none.
func (s *Store) App(name string) (*engine.App, error) {
	var a *engine.App
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		a, err = getApp(tx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get app %s: %w", name, err)
	}
	return a, nil
}

// Apps returns every app sorted by name, which is bbolt's key order.
func (s *Store) Apps() ([]*engine.App, error) {
	var out []*engine.App
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApps).ForEach(func(k, v []byte) error {
			a := new(engine.App)
			if err := decode(k, v, a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return out, nil
}

// DeleteApp removes the app, its releases (and so its config) and formation,
// and the slug records it owns, returning their IDs so the caller can remove
// the slug files. A slug that another app's release also uses is handed to
// that app instead of being returned, so its file is not removed from under
// it. Returns ENOTFOUND if there is no such app.
func (s *Store) DeleteApp(name string) ([]string, error) {
	var ids []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		apps := tx.Bucket(bucketApps)
		a, err := getApp(tx, name)
		if err != nil {
			return err
		}
		if err := deleteBuilds(tx, a.ID); err != nil {
			return err
		}
		if err := apps.Delete([]byte(name)); err != nil {
			return fmt.Errorf("delete record: %w", err)
		}
		if err := deleteReleases(tx, name); err != nil {
			return err
		}
		if err := deleteJobs(tx, name); err != nil {
			return err
		}
		if err := deleteCouplingOf(tx, name); err != nil {
			return err
		}
		if err := deleteReviewOf(tx, name); err != nil {
			return err
		}
		ids, err = deleteSlugsOf(tx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete app %s: %w", name, err)
	}
	return ids, nil
}

// SetFormation replaces the app's formation with a copy of formation.
// Returns ENOTFOUND.
func (s *Store) SetFormation(app string, formation map[string]int) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		a, err := getApp(tx, app)
		if err != nil {
			return err
		}
		a.Formation = maps.Clone(formation)
		a.UpdatedAt = now()
		return putApp(tx, a)
	})
	if err != nil {
		return fmt.Errorf("set formation of %s: %w", app, err)
	}
	return nil
}

// UpdateApp applies fn to the app's record and stores the result, in one
// transaction, so that concurrent changes to different fields never undo
// each other. An error from fn aborts the change and is returned as is.
// Returns ENOTFOUND.
func (s *Store) UpdateApp(name string, fn func(*engine.App) error) (*engine.App, error) {
	var out *engine.App
	err := s.db.Update(func(tx *bolt.Tx) error {
		a, err := getApp(tx, name)
		if err != nil {
			return err
		}
		uid := a.UID
		if err := fn(a); err != nil {
			return err
		}
		a.Name, a.UID = name, uid
		a.UpdatedAt = now()
		out = a
		return putApp(tx, a)
	})
	if err != nil {
		if engine.ErrorCode(err) != engine.EINTERNAL {
			return nil, err
		}
		return nil, fmt.Errorf("update app %s: %w", name, err)
	}
	return out, nil
}

// getApp reads an app inside tx. Returns ENOTFOUND.
func getApp(tx *bolt.Tx, name string) (*engine.App, error) {
	a := new(engine.App)
	ok, err := get(tx.Bucket(bucketApps), []byte(name), a)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errAppNotFound()
	}
	return a, nil
}

// putApp writes an app record inside tx.
func putApp(tx *bolt.Tx, a *engine.App) error {
	return put(tx.Bucket(bucketApps), []byte(a.Name), a)
}

// deleteReleases drops the app's nested releases bucket, if any.
func deleteReleases(tx *bolt.Tx, app string) error {
	err := tx.Bucket(bucketReleases).DeleteBucket([]byte(app))
	if err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
		return fmt.Errorf("delete releases: %w", err)
	}
	return nil
}

// deleteSlugsOf removes the slug records owned by app and returns the IDs
// whose files are no longer needed. Call it after the app's releases are
// gone, so that only other apps' releases count as users.
func deleteSlugsOf(tx *bolt.Tx, app string) ([]string, error) {
	slugs := tx.Bucket(bucketSlugs)
	var owned []*engine.Slug
	err := slugs.ForEach(func(k, v []byte) error {
		sl := new(engine.Slug)
		if err := decode(k, v, sl); err != nil {
			return err
		}
		if sl.App == app {
			owned = append(owned, sl)
		}
		return nil
	})
	if err != nil || len(owned) == 0 {
		return nil, err
	}
	users, err := slugUsers(tx)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, sl := range owned {
		if other, ok := users[sl.ID]; ok {
			sl.App = other
			if err := put(slugs, []byte(sl.ID), sl); err != nil {
				return nil, err
			}
			continue
		}
		if err := slugs.Delete([]byte(sl.ID)); err != nil {
			return nil, fmt.Errorf("delete slug %s: %w", sl.ID, err)
		}
		ids = append(ids, sl.ID)
	}
	return ids, nil
}

// slugUsers maps each slug ID referenced by any remaining release to one app
// that references it.
func slugUsers(tx *bolt.Tx) (map[string]string, error) {
	users := map[string]string{}
	root := tx.Bucket(bucketReleases)
	err := root.ForEachBucket(func(app []byte) error {
		b := root.Bucket(app)
		return b.ForEach(func(k, v []byte) error {
			r := new(engine.Release)
			if err := decode(k, v, r); err != nil {
				return err
			}
			if r.SlugID != "" {
				users[r.SlugID] = string(app)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("scan releases: %w", err)
	}
	return users, nil
}
