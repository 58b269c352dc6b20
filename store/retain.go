package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// PruneSlugs applies the retention rule after a release of app (see
// engine.Retention): it deletes the app's release records past the
// newest engine.MaxReleaseRecords (never the current one), then the
// records of the slugs the app's releases refer to that no app retains
// and that inUse does not name, and returns the ids of the slugs whose
// records it deleted, whose files the caller then removes. keep is how
// many distinct slugs of succeeded releases each app retains. Deleting
// the records first means a crash before the files go leaves files no
// record names, which a start removes (never the reverse). Returns
// ENOTFOUND if the app does not exist.
func (s *Store) PruneSlugs(app string, keep int, inUse map[string]bool) ([]string, error) {
	if keep < 1 {
		return nil, engine.Errorf(engine.EINVALID, "At least one slug per app must be kept.")
	}
	var removed []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		a, err := getApp(tx, app)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketReleases).Bucket([]byte(app))
		if b == nil {
			return nil
		}
		if err := trimReleases(b, a.CurrentRelease); err != nil {
			return err
		}
		// The app's own releases, all of them: what they refer to and
		// does not stay is a candidate.
		var mine []engine.ReleaseRef
		ret := engine.NewRetention(a.CurrentRelease, keep)
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var r engine.ReleaseRef
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode release %x of %s: %w", k, app, err)
			}
			ret.Add(r)
			mine = append(mine, r)
		}
		kept := ret.Kept()
		candidates := map[string]bool{}
		for _, r := range mine {
			if r.SlugID != "" && !kept[r.SlugID] {
				candidates[r.SlugID] = true
			}
		}
		// Slug records of the app no release of it refers to any more
		// (an app's record handed on when another app was destroyed).
		err = tx.Bucket(bucketSlugs).ForEach(func(k, v []byte) error {
			var sl struct {
				App string `json:"app"`
			}
			if err := json.Unmarshal(v, &sl); err != nil {
				return fmt.Errorf("decode slug %s: %w", k, err)
			}
			if sl.App == app && !kept[string(k)] {
				candidates[string(k)] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(candidates) == 0 {
			return nil
		}
		// What any other app retains stays: a promotion shares a slug.
		root := tx.Bucket(bucketReleases)
		err = tx.Bucket(bucketApps).ForEach(func(k, v []byte) error {
			if string(k) == app {
				return nil
			}
			other := new(engine.App)
			if err := decode(k, v, other); err != nil {
				return err
			}
			ob := root.Bucket(k)
			if ob == nil {
				return nil
			}
			for id := range retainedOf(ob, other.CurrentRelease, keep) {
				delete(candidates, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
		slugs := tx.Bucket(bucketSlugs)
		for id := range candidates {
			if inUse[id] || slugs.Get([]byte(id)) == nil {
				continue
			}
			if err := slugs.Delete([]byte(id)); err != nil {
				return fmt.Errorf("delete slug %s: %w", id, err)
			}
			removed = append(removed, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prune slugs of %s: %w", app, err)
	}
	return removed, nil
}

// retainedOf walks an app's releases newest first only as far as the
// rule needs (see Retention.Add).
func retainedOf(b *bolt.Bucket, current, keep int) map[string]bool {
	ret := engine.NewRetention(current, keep)
	c := b.Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		var r engine.ReleaseRef
		if json.Unmarshal(v, &r) != nil {
			continue // unreadable: it retains nothing
		}
		if !ret.Add(r) {
			break
		}
	}
	return ret.Kept()
}

// trimReleases deletes the oldest release records of an app past the
// newest engine.MaxReleaseRecords, except the current one.
func trimReleases(b *bolt.Bucket, current int) error {
	n := b.Stats().KeyN
	if n <= engine.MaxReleaseRecords {
		return nil
	}
	var drop [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(drop) < n-engine.MaxReleaseRecords; k, _ = c.Next() {
		if v, err := keyVersion(k); err == nil && v == current {
			continue
		}
		drop = append(drop, append([]byte(nil), k...))
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete release %x: %w", k, err)
		}
	}
	return nil
}

// SlugIDs returns the ids of every recorded slug, for the start's sweep
// of slug files no record names.
func (s *Store) SlugIDs() (map[string]bool, error) {
	ids := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSlugs).ForEach(func(k, _ []byte) error {
			ids[string(k)] = true
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list slugs: %w", err)
	}
	return ids, nil
}
