package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"hako/engine"
)

// TestBackupsRound: a schedule at 02:00 Europe/Paris (01:00 UTC in
// winter) takes its backup once when 01:00 UTC comes and once the next
// day, not before nor twice; a scheduler started after the hour does not
// make the run up; a run still going skips the next; a removed schedule
// runs no more.
func TestBackupsRound(t *testing.T) {
	sched := engine.ScheduledDatabase{App: "owner-db", Addon: engine.Addon{ID: "a1", Name: "postgresql-x"},
		Schedule: engine.PGSchedule{ID: "s1", Name: "DATABASE_URL", Hour: 2, Timezone: "Europe/Paris"}}
	list := []engine.ScheduledDatabase{sched}
	var mu sync.Mutex
	var runs []time.Time
	var now time.Time
	release := make(chan struct{})
	close(release)
	b := &Backups{
		List: func() ([]engine.ScheduledDatabase, error) { return list, nil },
		Capture: func(ctx context.Context, app, addonID, id string) error {
			if app != "owner-db" || addonID != "a1" || id != "s1" {
				t.Errorf("Capture(%s, %s, %s)", app, addonID, id)
			}
			mu.Lock()
			runs = append(runs, now)
			r := release
			mu.Unlock()
			<-r
			return nil
		},
		Logf: t.Logf, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	}
	at := func(s string) {
		mu.Lock()
		now, _ = time.Parse(time.RFC3339, s)
		mu.Unlock()
	}
	round := func(s string, wantRuns int, wantWait time.Duration) {
		t.Helper()
		at(s)
		wait := b.Round(context.Background())
		b.Wait()
		mu.Lock()
		n := len(runs)
		mu.Unlock()
		if n != wantRuns || (wantWait >= 0 && wait != wantWait) {
			t.Errorf("at %s: %d runs, wait %s; want %d, %s", s, n, wait, wantRuns, wantWait)
		}
	}
	round("2026-11-30T00:30:00Z", 0, time.Minute)
	round("2026-11-30T00:59:30Z", 0, 30*time.Second)
	round("2026-11-30T01:00:00Z", 1, time.Minute)
	round("2026-11-30T01:00:40Z", 1, time.Minute)
	round("2026-11-30T12:00:00Z", 1, time.Minute)
	round("2026-12-01T01:00:05Z", 2, time.Minute)

	// Started after the hour: nothing made up; the next day's runs.
	b2 := &Backups{List: b.List, Capture: b.Capture, Logf: t.Logf, Now: b.Now}
	at("2026-12-01T01:30:00Z")
	b2.Round(context.Background())
	b2.Wait()
	if len(runs) != 2 {
		t.Errorf("a scheduler started after the hour ran the missed backup: %d runs", len(runs))
	}

	// A run still going when the next is due: that one is skipped.
	hold := make(chan struct{})
	mu.Lock()
	release = hold
	mu.Unlock()
	at("2026-12-02T01:00:00Z")
	b.Round(context.Background()) // starts a run that holds
	waitRuns := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			got := len(runs)
			mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d runs, want %d", got, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitRuns(3)
	at("2026-12-03T01:00:00Z")
	b.Round(context.Background())
	close(hold)
	b.Wait()
	if len(runs) != 3 {
		t.Errorf("a run due while the last still ran was not skipped: %d runs", len(runs))
	}

	// Removed: no more runs.
	list = nil
	round("2026-12-04T01:00:00Z", 3, time.Minute)
}
