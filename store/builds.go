package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// Builds live in one nested bucket per app, named by the app's id (so a
// rename moves nothing, and a new app of a destroyed one's name inherits
// nothing), keyed by a big-endian sequence so that bbolt's order is the
// order they began in. bucketBuildSecrets indexes them by the secret of
// their output URL, which anyone holding it may read without a token: a
// lookup must not scan every app's builds.
var (
	bucketBuilds       = []byte("builds")
	bucketBuildSecrets = []byte("build-secrets")
)

var _ engine.BuildStore = (*Store)(nil)

// AddBuild records a new build and forgets the oldest finished ones past
// engine.KeptBuilds, returning them. Returns ENOTFOUND when the app is
// gone or has another id.
func (s *Store) AddBuild(b *engine.Build) ([]*engine.Build, error) {
	var dropped []*engine.Build
	err := s.db.Update(func(tx *bolt.Tx) error {
		a, err := getApp(tx, b.App)
		if err != nil {
			return err
		}
		if a.ID != b.AppID {
			return errAppNotFound()
		}
		bb, err := appBuilds(tx, b.AppID, true)
		if err != nil {
			return err
		}
		seq, err := bb.NextSequence()
		if err != nil {
			return fmt.Errorf("number build: %w", err)
		}
		key := versionKey(int(seq))
		if err := put(bb, key, b); err != nil {
			return err
		}
		if err := secrets(tx).Put([]byte(b.Secret), secretValue(b.AppID, key)); err != nil {
			return fmt.Errorf("index build: %w", err)
		}
		dropped, err = trimBuilds(tx, bb, engine.KeptBuilds)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record build of %s: %w", b.App, err)
	}
	return dropped, nil
}

// trimBuilds removes the oldest builds of bb past keep: finished ones
// first, then, should every one still be pending, the oldest of those.
func trimBuilds(tx *bolt.Tx, bb *bolt.Bucket, keep int) ([]*engine.Build, error) {
	type entry struct {
		key []byte
		b   *engine.Build
	}
	var finished, pending []entry
	err := bb.ForEach(func(k, v []byte) error {
		b := new(engine.Build)
		if err := decode(k, v, b); err != nil {
			return err
		}
		e := entry{append([]byte(nil), k...), b}
		if b.Status == engine.BuildPending {
			pending = append(pending, e)
		} else {
			finished = append(finished, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n := len(finished) + len(pending)
	var dropped []*engine.Build
	for _, list := range [][]entry{finished, pending} {
		for _, e := range list {
			if n <= keep {
				return dropped, nil
			}
			if err := bb.Delete(e.key); err != nil {
				return nil, fmt.Errorf("forget build %s: %w", e.b.ID, err)
			}
			if err := secrets(tx).Delete([]byte(e.b.Secret)); err != nil {
				return nil, fmt.Errorf("forget build %s: %w", e.b.ID, err)
			}
			dropped = append(dropped, e.b)
			n--
		}
	}
	return dropped, nil
}

// UpdateBuild stores b's new state over its record. Returns ENOTFOUND
// when the record is gone (forgotten, or its app destroyed).
func (s *Store) UpdateBuild(b *engine.Build) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		bb, key, err := findBuild(tx, b.Secret)
		if err != nil {
			return err
		}
		var old engine.Build
		if ok, err := get(bb, key, &old); err != nil || !ok || old.ID != b.ID {
			return buildNotFound(err)
		}
		return put(bb, key, b)
	})
	if err != nil {
		return fmt.Errorf("update build %s: %w", b.ID, err)
	}
	return nil
}

// Builds returns the builds of the app with id appID, oldest first.
func (s *Store) Builds(appID string) ([]*engine.Build, error) {
	var list []*engine.Build
	err := s.db.View(func(tx *bolt.Tx) error {
		bb, err := appBuilds(tx, appID, false)
		if bb == nil || err != nil {
			return err
		}
		return bb.ForEach(func(k, v []byte) error {
			b := new(engine.Build)
			if err := decode(k, v, b); err != nil {
				return err
			}
			list = append(list, b)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read builds: %w", err)
	}
	return list, nil
}

// BuildBySecret returns the build whose output URL holds secret. Returns
// ENOTFOUND.
func (s *Store) BuildBySecret(secret string) (*engine.Build, error) {
	b := new(engine.Build)
	err := s.db.View(func(tx *bolt.Tx) error {
		bb, key, err := findBuild(tx, secret)
		if err != nil {
			return err
		}
		ok, err := get(bb, key, b)
		if err != nil || !ok {
			return buildNotFound(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// PendingBuilds returns every app's pending builds, for a start to end
// those a stop interrupted.
func (s *Store) PendingBuilds() ([]*engine.Build, error) {
	var list []*engine.Build
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketBuilds)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(app []byte) error {
			return root.Bucket(app).ForEach(func(k, v []byte) error {
				b := new(engine.Build)
				if err := decode(k, v, b); err != nil {
					return err
				}
				if b.Status == engine.BuildPending {
					list = append(list, b)
				}
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read pending builds: %w", err)
	}
	return list, nil
}

// deleteBuilds removes the builds of the app with id appID, with the app.
func deleteBuilds(tx *bolt.Tx, appID string) error {
	if appID == "" {
		return nil
	}
	bb, err := appBuilds(tx, appID, false)
	if bb == nil || err != nil {
		return err
	}
	err = bb.ForEach(func(k, v []byte) error {
		var b engine.Build
		if err := decode(k, v, &b); err != nil {
			return err
		}
		return secrets(tx).Delete([]byte(b.Secret))
	})
	if err != nil {
		return fmt.Errorf("forget builds: %w", err)
	}
	return tx.Bucket(bucketBuilds).DeleteBucket([]byte(appID))
}

// appBuilds returns the bucket of the app's builds, made when make is
// set; nil when there is none.
func appBuilds(tx *bolt.Tx, appID string, make bool) (*bolt.Bucket, error) {
	if appID == "" {
		return nil, errAppNotFound()
	}
	if !make {
		root := tx.Bucket(bucketBuilds)
		if root == nil {
			return nil, nil
		}
		return root.Bucket([]byte(appID)), nil
	}
	root, err := tx.CreateBucketIfNotExists(bucketBuilds)
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", bucketBuilds, err)
	}
	return root.CreateBucketIfNotExists([]byte(appID))
}

// secrets is the index of builds by secret, which Open makes.
func secrets(tx *bolt.Tx) *bolt.Bucket { return tx.Bucket(bucketBuildSecrets) }

// secretValue is the index's entry: the app's id, a NUL, the build's key.
func secretValue(appID string, key []byte) []byte {
	return append(append([]byte(appID), 0), key...)
}

// findBuild returns the bucket and key of the build whose secret is
// secret. Returns ENOTFOUND.
func findBuild(tx *bolt.Tx, secret string) (*bolt.Bucket, []byte, error) {
	if secret == "" {
		return nil, nil, buildNotFound(nil)
	}
	v := secrets(tx).Get([]byte(secret))
	appID, key, ok := bytes.Cut(v, []byte{0})
	if !ok {
		return nil, nil, buildNotFound(nil)
	}
	bb, err := appBuilds(tx, string(appID), false)
	if err != nil || bb == nil {
		return nil, nil, buildNotFound(err)
	}
	return bb, append([]byte(nil), key...), nil
}

// buildNotFound is ENOTFOUND for a build, or err when reading failed.
func buildNotFound(err error) error {
	if err != nil {
		return err
	}
	return engine.Errorf(engine.ENOTFOUND, "Couldn't find that build.")
}
