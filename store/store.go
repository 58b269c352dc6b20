// Package store keeps hako's durable state (apps, releases, slug records,
// formation and SSH keys) in a single bbolt file, so that a restarted server
// finds every app exactly as it left it and a crash never leaves half a
// change behind: each public method is one transaction.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"hako/engine"
)

// Bucket names. Releases hold one nested bucket per app so that listing or
// deleting an app's history never scans other apps.
var (
	bucketApps     = []byte("apps")
	bucketReleases = []byte("releases")
	bucketSlugs    = []byte("slugs")
	bucketKeys     = []byte("keys")
)

// lockTimeout bounds how long Open waits for the file lock, so that a
// second server started on the same data directory fails at once instead
// of hanging.
const lockTimeout = time.Second

// ErrLocked is returned (wrapped) by Open when another process, or another
// Store in this process, already holds the database. Callers can test for
// it with errors.Is to tell the operator what is wrong.
var ErrLocked = errors.New("another hako server holds the data directory")

// Store is the bbolt-backed engine.Store. It is safe for concurrent use:
// bbolt serialises writers, which is what makes version numbers unique.
type Store struct {
	db *bolt.DB
}

var _ engine.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path with mode 0600,
// since it lists every app and key. It fails within about a second, with an
// error wrapping ErrLocked, when the file is held by another server.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: %w (its lock was not released within %s)", path, ErrLocked, lockTimeout)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketApps, bucketReleases, bucketSlugs, bucketKeys, bucketMeta, bucketUsers, bucketTokens, bucketBuildSecrets, bucketSlugImports, bucketSources} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		// Apps of older stores have no uid of their own yet, nor an owner,
		// nor their releases an id.
		if err := assignUIDs(tx); err != nil {
			return err
		}
		if err := migrateUsers(tx); err != nil {
			return err
		}
		return assignReleaseIDs(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close releases the database file and its lock so that another server
// may open it.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// now is the store's clock for timestamps the caller left unset; UTC keeps
// stored records comparable whatever the server's time zone.
func now() time.Time { return time.Now().UTC() }

// put stores v as JSON under key in b.
func put(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if err := b.Put(key, data); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// get decodes the JSON stored under key into v and reports whether the key
// existed. Decoding copies the bytes, so v stays valid after the
// transaction ends.
func get(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	return true, decode(key, data, v)
}

// decode unmarshals a record read under key. Unmarshalling copies, so the
// result outlives the transaction that owns data.
func decode(key, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// versionKey encodes a release version big-endian so that bbolt's byte
// order is version order.
func versionKey(v int) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, uint64(v))
	return k
}

// keyVersion decodes a key written by versionKey.
func keyVersion(k []byte) (int, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("bad release key %x", k)
	}
	return int(binary.BigEndian.Uint64(k)), nil
}
