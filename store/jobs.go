package store

import (
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// bucketJobs holds one nested bucket per app of its scheduler jobs, by ID.
var bucketJobs = []byte("scheduler")

var _ engine.JobStore = (*Store)(nil)

// SchedulerJobs returns the app's jobs (every app's for ""), oldest
// first.
func (s *Store) SchedulerJobs(app string) ([]*engine.SchedulerJob, error) {
	var jobs []*engine.SchedulerJob
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketJobs)
		if root == nil {
			return nil
		}
		read := func(b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				var j engine.SchedulerJob
				if err := decode(k, v, &j); err != nil {
					return err
				}
				jobs = append(jobs, &j)
				return nil
			})
		}
		if app != "" {
			if b := root.Bucket([]byte(app)); b != nil {
				return read(b)
			}
			return nil
		}
		return root.ForEach(func(k, _ []byte) error {
			if b := root.Bucket(k); b != nil {
				return read(b)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read scheduler jobs: %w", err)
	}
	sort.SliceStable(jobs, func(i, j int) bool {
		if !jobs[i].CreatedAt.Equal(jobs[j].CreatedAt) {
			return jobs[i].CreatedAt.Before(jobs[j].CreatedAt)
		}
		return jobs[i].ID < jobs[j].ID
	})
	return jobs, nil
}

// appJobs returns the app's bucket of jobs, made if need be; the app must
// exist.
func appJobs(tx *bolt.Tx, app string) (*bolt.Bucket, error) {
	if _, err := getApp(tx, app); err != nil {
		return nil, err
	}
	root, err := tx.CreateBucketIfNotExists(bucketJobs)
	if err != nil {
		return nil, err
	}
	return root.CreateBucketIfNotExists([]byte(app))
}

// PutSchedulerJob records a job. Returns ENOTFOUND when its app is gone.
func (s *Store) PutSchedulerJob(j *engine.SchedulerJob) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := appJobs(tx, j.App)
		if err != nil {
			return err
		}
		c := *j
		c.NextRun = time.Time{}
		return put(b, []byte(j.ID), &c)
	})
	if err != nil {
		return fmt.Errorf("record scheduler job of %s: %w", j.App, err)
	}
	return nil
}

// DeleteSchedulerJob removes a job. Returns ENOTFOUND.
func (s *Store) DeleteSchedulerJob(app, id string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := appJobs(tx, app)
		if err != nil {
			return err
		}
		if b.Get([]byte(id)) == nil {
			return engine.Errorf(engine.ENOTFOUND, "No scheduler job %s on %s.", id, app)
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("remove scheduler job %s of %s: %w", id, app, err)
	}
	return nil
}

// SetDeclaredJobs replaces the app's declared jobs by jobs, keeping the
// ones users added.
func (s *Store) SetDeclaredJobs(app string, jobs []*engine.SchedulerJob) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := appJobs(tx, app)
		if err != nil {
			return err
		}
		var drop [][]byte
		err = b.ForEach(func(k, v []byte) error {
			var j engine.SchedulerJob
			if err := decode(k, v, &j); err != nil {
				return err
			}
			if j.Declared {
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
		for _, j := range jobs {
			c := *j
			c.Declared, c.NextRun = true, time.Time{}
			if err := put(b, []byte(c.ID), &c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set declared scheduler jobs of %s: %w", app, err)
	}
	return nil
}

// SetJobRun records a run of a job, if the job still exists.
func (s *Store) SetJobRun(app, id string, at time.Time, dyno string, status int) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketJobs)
		if root == nil {
			return nil
		}
		b := root.Bucket([]byte(app))
		if b == nil {
			return nil
		}
		var j engine.SchedulerJob
		if ok, err := get(b, []byte(id), &j); err != nil || !ok {
			return err
		}
		j.LastRun, j.LastDyno, j.LastStatus = at.UTC(), dyno, status
		return put(b, []byte(id), &j)
	})
	if err != nil {
		return fmt.Errorf("record run of scheduler job %s of %s: %w", id, app, err)
	}
	return nil
}

// deleteJobs removes the app's jobs, with the app.
func deleteJobs(tx *bolt.Tx, app string) error {
	root := tx.Bucket(bucketJobs)
	if root == nil || root.Bucket([]byte(app)) == nil {
		return nil
	}
	return root.DeleteBucket([]byte(app))
}
