package scheduler

import (
	"context"
	"sync"
	"time"

	"hako/engine"
)

// Backups runs the databases' daily backup schedules (pg:backups:schedule):
// each at its hour in its time zone, a capture like any other. As with the
// jobs, runs missed while the server was down are not made up: a
// schedule's next run is counted from when the scheduler first sees it.
// A run still going when the next is due makes that one skip.
type Backups struct {
	// List gives the schedules (engine.BackupSchedules("")); Capture
	// takes one's backup (engine.CaptureScheduled).
	List    func() ([]engine.ScheduledDatabase, error)
	Capture func(ctx context.Context, app, addonID, id string) error
	// Logf receives what goes wrong; Now is the clock.
	Logf func(format string, args ...any)
	Now  func() time.Time

	mu      sync.Mutex
	next    map[string]time.Time // by schedule id
	running map[string]bool
	wg      sync.WaitGroup
}

// NewBackups returns the backup scheduler of eng's databases.
func NewBackups(eng *engine.Engine) *Backups {
	return &Backups{
		List: func() ([]engine.ScheduledDatabase, error) { return eng.BackupSchedules("") },
		Capture: func(ctx context.Context, app, addonID, id string) error {
			_, err := eng.CaptureScheduled(ctx, app, addonID, id)
			return err
		},
		Logf: eng.Logf, Now: time.Now,
	}
}

// Run runs the schedules until ctx ends, then waits for the captures
// under way (which ctx's end stops) and returns nil. The schedules are
// read again every minute, so that one set or removed is seen within it.
func (b *Backups) Run(ctx context.Context) error {
	defer b.wg.Wait()
	for {
		wait := b.Round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Round starts the captures that are due and returns how long to wait
// until the next is (at most a minute).
func (b *Backups) Round(ctx context.Context) time.Duration {
	list, err := b.List()
	if err != nil {
		b.Logf("backup scheduler: %v", err)
		return 5 * time.Second
	}
	now := b.Now()
	soonest := now.Add(time.Minute)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next == nil {
		b.next, b.running = map[string]time.Time{}, map[string]bool{}
	}
	seen := map[string]bool{}
	for _, d := range list {
		s := d.Schedule
		seen[s.ID] = true
		next, ok := b.next[s.ID]
		if !ok {
			next = s.Next(now)
		}
		if !next.After(now) {
			if b.running[s.ID] {
				b.Logf("backup scheduler: skipping a backup of %s: the last is still running", d.Addon.Name)
			} else {
				b.start(ctx, d)
			}
			next = s.Next(now)
		}
		b.next[s.ID] = next
		if next.Before(soonest) {
			soonest = next
		}
	}
	for id := range b.next {
		if !seen[id] {
			delete(b.next, id)
		}
	}
	return max(soonest.Sub(now), 0)
}

// start takes d's backup in a goroutine of its own; b.mu is held.
func (b *Backups) start(ctx context.Context, d engine.ScheduledDatabase) {
	id := d.Schedule.ID
	b.running[id] = true
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.Capture(ctx, d.App, d.Addon.ID, id); err != nil && ctx.Err() == nil {
			b.Logf("backup scheduler: %s: %v", d.Addon.Name, err)
		}
		b.mu.Lock()
		delete(b.running, id)
		b.mu.Unlock()
	}()
}

// Wait waits for the captures under way (for tests).
func (b *Backups) Wait() { b.wg.Wait() }
