package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Liveness: app.json's liveness checks run on every up dyno of their
// process type, each every Wait (at least a second); a dyno that fails
// one Attempts times in a row is replaced (with preboot, for a web dyno:
// see replaceDyno), as a crashed one would be.

// liveCheck is the state of one liveness check of one dyno.
type liveCheck struct {
	h     Healthcheck
	next  time.Time
	fails int
	busy  bool
}

// liveness is WatchLiveness's state, shared with its probes.
type liveness struct {
	mu     sync.Mutex
	dynos  map[*instance][]*liveCheck
	checks map[string]*AppJSON // by slug ID; nil when none
}

// WatchLiveness runs the liveness checks until ctx ends, for the server's
// lifetime. It returns nil then.
func (e *Engine) WatchLiveness(ctx context.Context) error {
	lv := &liveness{dynos: map[*instance][]*liveCheck{}, checks: map[string]*AppJSON{}}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		e.livenessRound(ctx, lv, &wg)
	}
}

// livenessRound starts the checks that are due.
func (e *Engine) livenessRound(ctx context.Context, lv *liveness, wg *sync.WaitGroup) {
	e.mu.Lock()
	var all []*instance
	for _, ins := range e.running {
		all = append(all, ins...)
	}
	e.mu.Unlock()
	now := time.Now()
	lv.mu.Lock()
	defer lv.mu.Unlock()
	seen := map[*instance]bool{}
	for _, in := range all {
		seen[in] = true
		if _, ok := lv.dynos[in]; !ok {
			var cs []*liveCheck
			for _, h := range e.slugChecks(lv, in).Checks(in.spec.Type, CheckLiveness) {
				cs = append(cs, &liveCheck{h: h, next: now.Add(h.InitialDelay)})
			}
			lv.dynos[in] = cs
		}
		addr := in.Addr()
		if addr == "" || !in.Up() {
			for _, c := range lv.dynos[in] {
				c.fails = 0
			}
			continue
		}
		for _, c := range lv.dynos[in] {
			if c.busy || now.Before(c.next) {
				continue
			}
			c.busy = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.liveProbe(ctx, lv, in, addr, c)
			}()
		}
	}
	for in := range lv.dynos {
		if !seen[in] {
			delete(lv.dynos, in)
		}
	}
}

// liveProbe runs one attempt of c on in and replaces in once c failed
// its attempts in a row.
func (e *Engine) liveProbe(ctx context.Context, lv *liveness, in *instance, addr string, c *liveCheck) {
	why := e.probe(ctx, addr, e.checkHost(in.spec.App), c.h)
	lv.mu.Lock()
	c.busy = false
	c.next = time.Now().Add(max(c.h.Wait, time.Second))
	if why == "" {
		c.fails = 0
		lv.mu.Unlock()
		return
	}
	c.fails++
	n := c.fails
	if n >= c.h.Attempts {
		c.fails = 0
		delete(lv.dynos, in)
	}
	lv.mu.Unlock()
	app, name := in.spec.App, in.spec.Name
	e.Logs.Log(app, "heroku", name, fmt.Sprintf("Liveness check %s failed (%d of %d): %s", c.h.Name, n, c.h.Attempts, why))
	if n < c.h.Attempts || ctx.Err() != nil {
		return
	}
	e.Logs.Log(app, "heroku", name, fmt.Sprintf("Restarting: liveness check %s failed %d times in a row", c.h.Name, n))
	e.logf("%s: restart %s: liveness check %s failed %d times in a row", app, name, c.h.Name, n)
	unlock, err := e.lockFor(ctx, app, "", nil)
	if err != nil {
		return
	}
	defer unlock()
	for _, r := range e.runningOf(app) {
		if r == in {
			if err := e.replaceDyno(ctx, app, in); err != nil {
				e.Logs.Log(app, "heroku", name, "Restart failed: "+ErrorMessage(err))
			}
			return
		}
	}
}

// slugChecks returns the app.json of the slug in runs, read once per
// slug.
func (e *Engine) slugChecks(lv *liveness, in *instance) *AppJSON {
	key := fmt.Sprintf("%s/%d", in.spec.App, in.spec.Release)
	if aj, ok := lv.checks[key]; ok {
		return aj
	}
	var aj *AppJSON
	if rel, err := e.Store.Release(in.spec.App, in.spec.Release); err == nil && rel.SlugID != "" {
		if slug, err := e.Store.Slug(rel.SlugID); err == nil {
			aj = slugAppJSON(slug)
		}
	}
	lv.checks[key] = aj
	return aj
}
