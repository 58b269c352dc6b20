package store

import (
	"fmt"
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// Users live under their email, tokens under the SHA-256 of their secret
// (the name every request looks them up by).
var (
	bucketUsers  = []byte("users")
	bucketTokens = []byte("tokens")
)

var _ engine.UserStore = (*Store)(nil)

// migrateUsers gives a store of the time before users its administrator,
// who then holds every key and owns every app that had no owner: nothing
// that worked before is lost, and nobody else gains anything.
func migrateUsers(tx *bolt.Tx) error {
	users := tx.Bucket(bucketUsers)
	if users.Get([]byte(engine.AdminEmail)) == nil {
		admin := &engine.User{ID: "00000000-0000-4000-8000-000000000000", Email: engine.AdminEmail, Admin: true, CreatedAt: now()}
		if err := put(users, []byte(admin.Email), admin); err != nil {
			return err
		}
	}
	keys := tx.Bucket(bucketKeys)
	err := forEachRecord(keys, func(k []byte, key *engine.Key) error {
		if key.Email != "" {
			return nil
		}
		key.Email = engine.AdminEmail
		return put(keys, k, key)
	})
	if err != nil {
		return err
	}
	apps := tx.Bucket(bucketApps)
	return forEachRecord(apps, func(k []byte, a *engine.App) error {
		if a.Owner != "" {
			return nil
		}
		a.Owner = engine.AdminEmail
		return put(apps, k, a)
	})
}

// forEachRecord decodes every record of b into a fresh T and calls fn,
// which may rewrite it: the keys are read first, so a write does not
// disturb the walk.
func forEachRecord[T any](b *bolt.Bucket, fn func(k []byte, v *T) error) error {
	var keys [][]byte
	if err := b.ForEach(func(k, _ []byte) error {
		keys = append(keys, slices.Clone(k))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		v := new(T)
		if ok, err := get(b, k, v); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// CreateUser records u and its keys in one transaction. Returns
// ECONFLICT if the email or a key is taken.
func (s *Store) CreateUser(u *engine.User, keys []*engine.Key) error {
	if u == nil || u.Email == "" {
		return engine.Errorf(engine.EINVALID, "A user needs an email.")
	}
	uc := *u
	if uc.CreatedAt.IsZero() {
		uc.CreatedAt = now()
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if users.Get([]byte(uc.Email)) != nil {
			return engine.Errorf(engine.ECONFLICT, "User %s already exists.", uc.Email)
		}
		for _, k := range keys {
			if err := addKey(tx, k); err != nil {
				return err
			}
		}
		return put(users, []byte(uc.Email), &uc)
	})
	if err != nil {
		return fmt.Errorf("create user %s: %w", uc.Email, err)
	}
	*u = uc
	return nil
}

// User returns the user of that email. Returns ENOTFOUND.
func (s *Store) User(email string) (*engine.User, error) {
	u := new(engine.User)
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bucketUsers), []byte(email), u)
		if err == nil && !ok {
			err = errUserNotFound(email)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", email, err)
	}
	return u, nil
}

// Users returns every user, oldest first (the administrator leads).
func (s *Store) Users() ([]*engine.User, error) {
	var out []*engine.User
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachRecord(tx.Bucket(bucketUsers), func(_ []byte, u *engine.User) error {
			out = append(out, u)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// DeleteUser removes the user, their keys and tokens, and takes them off
// the apps they collaborate on, in one transaction. Returns ENOTFOUND, or
// ECONFLICT while they own apps (which are not removed behind anyone's
// back: destroy them first).
func (s *Store) DeleteUser(email string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if users.Get([]byte(email)) == nil {
			return errUserNotFound(email)
		}
		apps := tx.Bucket(bucketApps)
		var owned []string
		err := forEachRecord(apps, func(k []byte, a *engine.App) error {
			if a.Owner == email {
				owned = append(owned, a.Name)
				return nil
			}
			i := slices.Index(a.Collaborators, email)
			if i < 0 {
				return nil
			}
			a.Collaborators = slices.Delete(a.Collaborators, i, i+1)
			return put(apps, k, a)
		})
		if err != nil {
			return err
		}
		if len(owned) > 0 {
			return engine.Errorf(engine.ECONFLICT, "%s owns %d apps (%s): destroy them first (`hako workshop:reset` does so for students).", email, len(owned), joinMax(owned, 5))
		}
		for _, b := range []*bolt.Bucket{tx.Bucket(bucketKeys), tx.Bucket(bucketTokens)} {
			if err := deleteWhere(b, func(v []byte) bool { return ownedBy(v, email) }); err != nil {
				return err
			}
		}
		return users.Delete([]byte(email))
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", email, err)
	}
	return nil
}

// ownedBy reports whether a key or token record belongs to email.
func ownedBy(v []byte, email string) bool {
	var rec struct {
		Email string `json:"email"`
		User  string `json:"user"`
	}
	if decode(nil, v, &rec) != nil {
		return false
	}
	return rec.Email == email || rec.User == email
}

// deleteWhere removes the records of b that match.
func deleteWhere(b *bolt.Bucket, match func(v []byte) bool) error {
	var del [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		if match(v) {
			del = append(del, slices.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range del {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func joinMax(names []string, n int) string {
	out := ""
	for i, name := range names {
		if i == n {
			return out + ", …"
		}
		if i > 0 {
			out += ", "
		}
		out += name
	}
	return out
}

// AddToken records a token of an existing user. Returns ENOTFOUND.
func (s *Store) AddToken(t *engine.Token) error {
	if t == nil || t.Hash == "" || t.ID == "" {
		return engine.Errorf(engine.EINVALID, "A token needs an id and a hash.")
	}
	tc := *t
	if tc.CreatedAt.IsZero() {
		tc.CreatedAt = now()
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUsers).Get([]byte(tc.User)) == nil {
			return errUserNotFound(tc.User)
		}
		b := tx.Bucket(bucketTokens)
		if b.Get([]byte(tc.Hash)) != nil {
			return engine.Errorf(engine.ECONFLICT, "That token is registered already.")
		}
		return put(b, []byte(tc.Hash), &tc)
	})
	if err != nil {
		return fmt.Errorf("add token of %s: %w", tc.User, err)
	}
	*t = tc
	return nil
}

// TokenByHash returns the token whose secret hashes to hash. Returns
// ENOTFOUND.
func (s *Store) TokenByHash(hash string) (*engine.Token, error) {
	t := new(engine.Token)
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bucketTokens), []byte(hash), t)
		if err == nil && !ok {
			err = errTokenNotFound()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	return t, nil
}

// Tokens returns the user's tokens, oldest first.
func (s *Store) Tokens(email string) ([]*engine.Token, error) {
	var out []*engine.Token
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachRecord(tx.Bucket(bucketTokens), func(_ []byte, t *engine.Token) error {
			if t.User == email {
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", email, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// DeleteToken removes the user's token of that id. Returns ENOTFOUND,
// also for another user's token.
func (s *Store) DeleteToken(email, id string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		var hash []byte
		err := forEachRecord(b, func(k []byte, t *engine.Token) error {
			if t.ID == id && t.User == email {
				hash = k
			}
			return nil
		})
		if err != nil {
			return err
		}
		if hash == nil {
			return errTokenNotFound()
		}
		return b.Delete(hash)
	})
	if err != nil {
		return fmt.Errorf("delete token %s: %w", id, err)
	}
	return nil
}

func errUserNotFound(email string) error {
	return engine.Errorf(engine.ENOTFOUND, "There is no user %s: `hako users` lists them.", email)
}

func errTokenNotFound() error {
	return engine.Errorf(engine.ENOTFOUND, "Couldn't find that token: `hako auth:tokens` lists yours.")
}
