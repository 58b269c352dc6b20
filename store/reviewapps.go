package store

import (
	"sort"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// Review apps live in two buckets made on first use: each parent's
// settings by its name, and each review app by its name.
var (
	bucketReviewSettings = []byte("review-settings")
	bucketReviewApps     = []byte("review-apps")
)

var _ engine.ReviewStore = (*Store)(nil)

// ReviewSettings returns a parent's settings, nil when it has none.
func (s *Store) ReviewSettings(parent string) (*engine.ReviewSettings, error) {
	var out *engine.ReviewSettings
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReviewSettings)
		if b == nil {
			return nil
		}
		rs := new(engine.ReviewSettings)
		ok, err := get(b, []byte(parent), rs)
		if ok {
			out = rs
		}
		return err
	})
	return out, err
}

// PutReviewSettings records a parent's settings. Returns ENOTFOUND when
// the parent is gone.
func (s *Store) PutReviewSettings(rs *engine.ReviewSettings) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getApp(tx, rs.Parent); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketReviewSettings)
		if err != nil {
			return err
		}
		return put(b, []byte(rs.Parent), rs)
	})
}

// ReviewApps returns the review apps of parent ("" for all), by name.
func (s *Store) ReviewApps(parent string) ([]*engine.ReviewApp, error) {
	var out []*engine.ReviewApp
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReviewApps)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			ra := new(engine.ReviewApp)
			if err := decode(k, v, ra); err != nil {
				return err
			}
			if parent == "" || ra.Parent == parent {
				out = append(out, ra)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// PutReviewApp records a review app. Returns ENOTFOUND when its app is
// gone.
func (s *Store) PutReviewApp(ra *engine.ReviewApp) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getApp(tx, ra.Name); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketReviewApps)
		if err != nil {
			return err
		}
		return put(b, []byte(ra.Name), ra)
	})
}

// deleteReviewOf drops what is recorded of an app deleted: its settings
// as a parent, its record as a review app, and the records of its own
// review apps, which stay as ordinary apps: a new app of the parent's
// name must not take them over.
func deleteReviewOf(tx *bolt.Tx, app string) error {
	if b := tx.Bucket(bucketReviewSettings); b != nil {
		if err := b.Delete([]byte(app)); err != nil {
			return err
		}
	}
	b := tx.Bucket(bucketReviewApps)
	if b == nil {
		return nil
	}
	var drop [][]byte
	err := b.ForEach(func(k, v []byte) error {
		ra := new(engine.ReviewApp)
		if err := decode(k, v, ra); err != nil {
			return err
		}
		if ra.Name == app || ra.Parent == app {
			drop = append(drop, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range drop {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
