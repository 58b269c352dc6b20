package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

var _ engine.AppRenamer = (*Store)(nil)

// RenameApp gives the app old the name new in one transaction: its
// record and add-ons, the attachments on it of every app's add-ons, its
// release history, its slugs' records, its
// scheduler jobs, its pipeline coupling and its review apps' settings and
// records (as a parent and as a review app) all move, so that nothing
// still names oldName afterwards. Returns ENOTFOUND, or ECONFLICT if newName is
// taken.
func (s *Store) RenameApp(oldName, newName string) (*engine.App, error) {
	var a *engine.App
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if a, err = getApp(tx, oldName); err != nil {
			return err
		}
		apps := tx.Bucket(bucketApps)
		if apps.Get([]byte(newName)) != nil {
			return engine.Errorf(engine.ECONFLICT, "Name %s is already taken", newName)
		}
		a.Name, a.UpdatedAt = newName, now()
		for i := range a.Addons {
			a.Addons[i].App = newName
		}
		if err := apps.Delete([]byte(oldName)); err != nil {
			return fmt.Errorf("delete record: %w", err)
		}
		if err := putApp(tx, a); err != nil {
			return err
		}
		if err := moveAttachments(tx, oldName, newName); err != nil {
			return err
		}
		if err := moveReleases(tx, oldName, newName); err != nil {
			return err
		}
		if err := moveJobs(tx, oldName, newName); err != nil {
			return err
		}
		if err := moveCoupling(tx, oldName, newName); err != nil {
			return err
		}
		if err := moveReview(tx, oldName, newName); err != nil {
			return err
		}
		return moveSlugs(tx, oldName, newName)
	})
	if err != nil {
		return nil, fmt.Errorf("rename app %s to %s: %w", oldName, newName, err)
	}
	return a, nil
}

// moveNested moves the nested bucket oldName of root to newName, passing each
// value through fix.
func moveNested(root *bolt.Bucket, oldName, newName string, fix func(k, v []byte) ([]byte, error)) error {
	if root == nil {
		return nil
	}
	from := root.Bucket([]byte(oldName))
	if from == nil {
		return nil
	}
	// A bucket left behind under the newName name must not leak into the
	// app's history.
	if err := root.DeleteBucket([]byte(newName)); err != nil && root.Bucket([]byte(newName)) != nil {
		return err
	}
	to, err := root.CreateBucket([]byte(newName))
	if err != nil {
		return fmt.Errorf("create %s: %w", newName, err)
	}
	err = from.ForEach(func(k, v []byte) error {
		nv, err := fix(k, v)
		if err != nil {
			return err
		}
		return to.Put(append([]byte(nil), k...), nv)
	})
	if err != nil {
		return err
	}
	return root.DeleteBucket([]byte(oldName))
}

func moveReleases(tx *bolt.Tx, oldName, newName string) error {
	return moveNested(tx.Bucket(bucketReleases), oldName, newName, func(k, v []byte) ([]byte, error) {
		r := new(engine.Release)
		if err := decode(k, v, r); err != nil {
			return nil, err
		}
		r.App = newName
		return encode(k, r)
	})
}

func moveJobs(tx *bolt.Tx, oldName, newName string) error {
	return moveNested(tx.Bucket(bucketJobs), oldName, newName, func(k, v []byte) ([]byte, error) {
		j := new(engine.SchedulerJob)
		if err := decode(k, v, j); err != nil {
			return nil, err
		}
		j.App = newName
		return encode(k, j)
	})
}

func moveCoupling(tx *bolt.Tx, oldName, newName string) error {
	b := tx.Bucket(bucketCouplings)
	if b == nil {
		return nil
	}
	c := new(engine.PipelineCoupling)
	ok, err := get(b, []byte(oldName), c)
	if err != nil || !ok {
		return err
	}
	c.App = newName
	if err := b.Delete([]byte(oldName)); err != nil {
		return err
	}
	return put(b, []byte(newName), c)
}

// moveReview moves the review apps' records naming oldName: its settings
// as a parent, its record as a review app and its review apps' parent.
// Left under the old name, they would hand a new app of that name the
// renamed parent's review apps (its pushes deploying into them) or make
// it a review app allowed to fork the parent's database.
func moveReview(tx *bolt.Tx, oldName, newName string) error {
	if b := tx.Bucket(bucketReviewSettings); b != nil {
		rs := new(engine.ReviewSettings)
		ok, err := get(b, []byte(oldName), rs)
		if err != nil {
			return err
		}
		if ok {
			rs.Parent = newName
			if err := b.Delete([]byte(oldName)); err != nil {
				return err
			}
			if err := put(b, []byte(newName), rs); err != nil {
				return err
			}
		}
	}
	b := tx.Bucket(bucketReviewApps)
	if b == nil {
		return nil
	}
	var fix []*engine.ReviewApp
	err := b.ForEach(func(k, v []byte) error {
		ra := new(engine.ReviewApp)
		if err := decode(k, v, ra); err != nil {
			return err
		}
		if ra.Name == oldName || ra.Parent == oldName {
			fix = append(fix, ra)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ra := range fix {
		if ra.Name == oldName {
			if err := b.Delete([]byte(oldName)); err != nil {
				return err
			}
			ra.Name = newName
		}
		if ra.Parent == oldName {
			ra.Parent = newName
		}
		if err := put(b, []byte(ra.Name), ra); err != nil {
			return err
		}
	}
	return nil
}

func moveSlugs(tx *bolt.Tx, oldName, newName string) error {
	b := tx.Bucket(bucketSlugs)
	var fix []*engine.Slug
	err := b.ForEach(func(k, v []byte) error {
		sl := new(engine.Slug)
		if err := decode(k, v, sl); err != nil {
			return err
		}
		if sl.App == oldName {
			fix = append(fix, sl)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sl := range fix {
		sl.App = newName
		if err := put(b, []byte(sl.ID), sl); err != nil {
			return err
		}
	}
	return nil
}

// encode is put's encoding, for a value moved by hand.
func encode(key []byte, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	return data, nil
}

// moveAttachments renames the app in the attachments of every app's
// add-ons (its own included) that attach one to it.
func moveAttachments(tx *bolt.Tx, oldName, newName string) error {
	var changed []*engine.App
	err := tx.Bucket(bucketApps).ForEach(func(k, v []byte) error {
		a := new(engine.App)
		if err := decode(k, v, a); err != nil {
			return err
		}
		moved := false
		for i := range a.Addons {
			for j := range a.Addons[i].Attachments {
				if at := &a.Addons[i].Attachments[j]; at.App == oldName {
					at.App, moved = newName, true
				}
			}
		}
		if moved {
			changed = append(changed, a)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range changed {
		if err := putApp(tx, a); err != nil {
			return err
		}
	}
	return nil
}
