package store

import (
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// Pipelines live in three buckets made on first use: pipelines by ID,
// couplings by app name (an app is in one pipeline at most) and
// promotions by ID.
var (
	bucketPipelines  = []byte("pipelines")
	bucketCouplings  = []byte("pipeline-couplings")
	bucketPromotions = []byte("pipeline-promotions")
)

var _ engine.PipelineStore = (*Store)(nil)

// CreatePipeline records p. Returns ECONFLICT if its name is taken.
func (s *Store) CreatePipeline(p *engine.Pipeline) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketPipelines)
		if err != nil {
			return err
		}
		if found, err := findPipeline(tx, p.Name); err != nil {
			return err
		} else if found != nil {
			return engine.Errorf(engine.ECONFLICT, "A pipeline named %s exists already.", p.Name)
		}
		return put(b, []byte(p.ID), p)
	})
	if err != nil && engine.ErrorCode(err) == engine.EINTERNAL {
		return fmt.Errorf("create pipeline %s: %w", p.Name, err)
	}
	return err
}

// findPipeline returns the pipeline whose ID or name is idOrName, or nil.
func findPipeline(tx *bolt.Tx, idOrName string) (*engine.Pipeline, error) {
	b := tx.Bucket(bucketPipelines)
	if b == nil {
		return nil, nil
	}
	var found *engine.Pipeline
	err := b.ForEach(func(k, v []byte) error {
		p := new(engine.Pipeline)
		if err := decode(k, v, p); err != nil {
			return err
		}
		if found == nil && (p.ID == idOrName || p.Name == idOrName) {
			found = p
		}
		return nil
	})
	return found, err
}

// Pipeline returns the pipeline with that ID or name. Returns ENOTFOUND.
func (s *Store) Pipeline(idOrName string) (*engine.Pipeline, error) {
	var p *engine.Pipeline
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		p, err = findPipeline(tx, idOrName)
		if err == nil && p == nil {
			err = engine.Errorf(engine.ENOTFOUND, "Couldn't find that pipeline: `hako pipelines` lists them.")
		}
		return err
	})
	return p, err
}

// Pipelines returns every pipeline, by name.
func (s *Store) Pipelines() ([]*engine.Pipeline, error) {
	var out []*engine.Pipeline
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPipelines)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			p := new(engine.Pipeline)
			if err := decode(k, v, p); err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// DeletePipeline removes a pipeline and its couplings. Returns ENOTFOUND.
func (s *Store) DeletePipeline(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPipelines)
		if b == nil || b.Get([]byte(id)) == nil {
			return engine.Errorf(engine.ENOTFOUND, "Couldn't find that pipeline.")
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		cs, err := couplings(tx, id)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if err := tx.Bucket(bucketCouplings).Delete([]byte(c.App)); err != nil {
				return err
			}
		}
		return nil
	})
}

// couplings reads the couplings of a pipeline ("" for all) inside tx.
func couplings(tx *bolt.Tx, pipeline string) ([]*engine.PipelineCoupling, error) {
	b := tx.Bucket(bucketCouplings)
	if b == nil {
		return nil, nil
	}
	var out []*engine.PipelineCoupling
	err := b.ForEach(func(k, v []byte) error {
		c := new(engine.PipelineCoupling)
		if err := decode(k, v, c); err != nil {
			return err
		}
		if pipeline == "" || c.Pipeline == pipeline {
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// Couplings returns the couplings of a pipeline ("" for all), by app.
func (s *Store) Couplings(pipeline string) ([]*engine.PipelineCoupling, error) {
	var out []*engine.PipelineCoupling
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = couplings(tx, pipeline)
		return err
	})
	return out, err
}

// PutCoupling records c, replacing the app's coupling if it has one.
// Returns ENOTFOUND when its app or pipeline is gone.
func (s *Store) PutCoupling(c *engine.PipelineCoupling) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getApp(tx, c.App); err != nil {
			return err
		}
		if p := tx.Bucket(bucketPipelines); p == nil || p.Get([]byte(c.Pipeline)) == nil {
			return engine.Errorf(engine.ENOTFOUND, "Couldn't find that pipeline.")
		}
		b, err := tx.CreateBucketIfNotExists(bucketCouplings)
		if err != nil {
			return err
		}
		return put(b, []byte(c.App), c)
	})
}

// DeleteCoupling removes the app's coupling. Returns ENOTFOUND.
func (s *Store) DeleteCoupling(app string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCouplings)
		if b == nil || b.Get([]byte(app)) == nil {
			return engine.Errorf(engine.ENOTFOUND, "%s is not in a pipeline.", app)
		}
		return b.Delete([]byte(app))
	})
}

// deleteCouplingOf drops an app's coupling, if any, for an app deleted.
func deleteCouplingOf(tx *bolt.Tx, app string) error {
	if b := tx.Bucket(bucketCouplings); b != nil {
		return b.Delete([]byte(app))
	}
	return nil
}

// PutPromotion records a promotion, new or changed.
func (s *Store) PutPromotion(p *engine.PipelinePromotion) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketPromotions)
		if err != nil {
			return err
		}
		return put(b, []byte(p.ID), p)
	})
}

// Promotion returns one promotion. Returns ENOTFOUND.
func (s *Store) Promotion(id string) (*engine.PipelinePromotion, error) {
	p := new(engine.PipelinePromotion)
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPromotions)
		ok := false
		var err error
		if b != nil {
			ok, err = get(b, []byte(id), p)
		}
		if err == nil && !ok {
			err = engine.Errorf(engine.ENOTFOUND, "Couldn't find that promotion.")
		}
		return err
	})
	return p, err
}
