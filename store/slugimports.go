package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// bucketSlugImports holds the slug imports by the secret of their blob
// URL.
var bucketSlugImports = []byte("slug-imports")

var _ engine.SlugImportStore = (*Store)(nil)

// PutSlugImport records an import, new or changed, under its secret.
func (s *Store) PutSlugImport(im *engine.SlugImport) error {
	if im.Secret == "" {
		return engine.Errorf(engine.EINVALID, "A slug import needs a secret.")
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return put(tx.Bucket(bucketSlugImports), []byte(im.Secret), im)
	})
	if err != nil {
		return fmt.Errorf("record slug import %s: %w", im.ID, err)
	}
	return nil
}

// DeleteSlugImport forgets the import of that secret, if any.
func (s *Store) DeleteSlugImport(secret string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSlugImports).Delete([]byte(secret))
	})
	if err != nil {
		return fmt.Errorf("forget slug import: %w", err)
	}
	return nil
}

// SlugImports returns every import kept.
func (s *Store) SlugImports() ([]*engine.SlugImport, error) {
	var list []*engine.SlugImport
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSlugImports).ForEach(func(k, v []byte) error {
			im := new(engine.SlugImport)
			if err := decode(k, v, im); err != nil {
				return err
			}
			list = append(list, im)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read slug imports: %w", err)
	}
	return list, nil
}
