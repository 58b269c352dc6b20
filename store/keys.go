package store

import (
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// AddKey records a public key under its fingerprint, the name the SSH
// server looks it up by on every connection. An unset CreatedAt is filled
// in. Returns ECONFLICT if the fingerprint or ID is registered already.
func (s *Store) AddKey(k *engine.Key) error {
	if k == nil || k.Fingerprint == "" {
		return engine.Errorf(engine.EINVALID, "A key needs a fingerprint.")
	}
	kc := *k
	if kc.CreatedAt.IsZero() {
		kc.CreatedAt = now()
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if kc.Email != "" && tx.Bucket(bucketUsers).Get([]byte(kc.Email)) == nil {
			return errUserNotFound(kc.Email)
		}
		return addKey(tx, &kc)
	})
	if err != nil {
		return fmt.Errorf("add key %s: %w", kc.Fingerprint, err)
	}
	*k = kc
	return nil
}

// addKey records k inside tx. Returns ECONFLICT if its fingerprint or ID
// is registered already.
func addKey(tx *bolt.Tx, k *engine.Key) error {
	b := tx.Bucket(bucketKeys)
	if b.Get([]byte(k.Fingerprint)) != nil {
		return engine.Errorf(engine.ECONFLICT, "Key %s is already registered.", k.Fingerprint)
	}
	if k.ID != "" {
		keys, err := allKeys(tx)
		if err != nil {
			return err
		}
		for _, o := range keys {
			if o.ID == k.ID {
				return engine.Errorf(engine.ECONFLICT, "Key ID %s is already in use.", k.ID)
			}
		}
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	return put(b, []byte(k.Fingerprint), k)
}

// Keys returns every key, oldest first, the order they were added in.
func (s *Store) Keys() ([]*engine.Key, error) {
	var out []*engine.Key
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = allKeys(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// KeyByFingerprint returns the key with that fingerprint; the SSH server
// uses it to authenticate. Returns ENOTFOUND.
func (s *Store) KeyByFingerprint(fp string) (*engine.Key, error) {
	k := new(engine.Key)
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bucketKeys), []byte(fp), k)
		if err == nil && !ok {
			err = errKeyNotFound()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get key %s: %w", fp, err)
	}
	return k, nil
}

// DeleteKey removes the key whose ID, fingerprint or comment is idOrName,
// among the keys of the user owner ("": anyone's), so that users can
// name a key the way they remember it and never remove another's. An ID or
// fingerprint match wins over a comment; a comment shared by several keys
// is refused with ECONFLICT rather than removing an arbitrary one.
// Returns ENOTFOUND.
func (s *Store) DeleteKey(owner, idOrName string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		keys, err := allKeys(tx)
		if err != nil {
			return err
		}
		var exact, byComment []*engine.Key
		for _, k := range keys {
			switch {
			case idOrName == "", owner != "" && k.Email != owner:
			case k.ID == idOrName || k.Fingerprint == idOrName:
				exact = append(exact, k)
			case k.Comment == idOrName:
				byComment = append(byComment, k)
			}
		}
		match := exact
		if len(match) == 0 {
			match = byComment
		}
		switch len(match) {
		case 0:
			return errKeyNotFound()
		case 1:
		default:
			return engine.Errorf(engine.ECONFLICT, "%d keys match %q; name the one to remove by its fingerprint.", len(match), idOrName)
		}
		if err := tx.Bucket(bucketKeys).Delete([]byte(match[0].Fingerprint)); err != nil {
			return fmt.Errorf("delete %s: %w", match[0].Fingerprint, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete key %s: %w", idOrName, err)
	}
	return nil
}

// errKeyNotFound is the user-facing answer for a missing key.
func errKeyNotFound() error {
	return engine.Errorf(engine.ENOTFOUND, "Couldn't find that key.")
}

// allKeys reads every key inside tx, oldest first; ties are broken by
// fingerprint so the order is stable.
func allKeys(tx *bolt.Tx) ([]*engine.Key, error) {
	var out []*engine.Key
	err := tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
		key := new(engine.Key)
		if err := decode(k, v, key); err != nil {
			return err
		}
		out = append(out, key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].CreatedAt.Before(out[j].CreatedAt)
	})
	return out, nil
}
