package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// bucketSources holds the sources of POST /sources by the secret of their
// blob URLs.
var bucketSources = []byte("sources")

var _ engine.SourceStore = (*Store)(nil)

// PutSource records a source, new or changed, under its secret.
func (s *Store) PutSource(src *engine.Source) error {
	if src.Secret == "" {
		return engine.Errorf(engine.EINVALID, "A source needs a secret.")
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return put(tx.Bucket(bucketSources), []byte(src.Secret), src)
	})
	if err != nil {
		return fmt.Errorf("record source %s: %w", src.ID, err)
	}
	return nil
}

// DeleteSource forgets the source of that secret, if any.
func (s *Store) DeleteSource(secret string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSources).Delete([]byte(secret))
	})
	if err != nil {
		return fmt.Errorf("forget source: %w", err)
	}
	return nil
}

// Sources returns every source kept.
func (s *Store) Sources() ([]*engine.Source, error) {
	var list []*engine.Source
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSources).ForEach(func(k, v []byte) error {
			src := new(engine.Source)
			if err := decode(k, v, src); err != nil {
				return err
			}
			list = append(list, src)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read sources: %w", err)
	}
	return list, nil
}
