package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"hako/engine"
	"hako/engine/scheduler"
)

// fakeBackuper is a heroku-postgresql provider whose captures are
// counted, and those not begun as scheduled ones (aNNN) too.
type fakeBackuper struct {
	fakeProvider
	mu       sync.Mutex
	captures int
	byHand   int
}

func (p *fakeBackuper) Backups(map[string]string) ([]engine.PGBackup, error) { return nil, nil }
func (p *fakeBackuper) Begin(ctx context.Context, res map[string]string, scheduled bool) (*engine.PGCapture, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.captures++
	if !scheduled {
		p.byHand++
	}
	bk := engine.PGBackup{ID: "a001", Num: 1}
	return &engine.PGCapture{Backup: bk, Run: func(context.Context) (*engine.PGBackup, []string, error) { return &bk, nil, nil }}, nil
}
func (p *fakeBackuper) Number(map[string]string) (int, error)                    { return 2, nil }
func (p *fakeBackuper) Restore(context.Context, map[string]string, string) error { return nil }
func (p *fakeBackuper) Delete(map[string]string, string) error                   { return nil }
func (p *fakeBackuper) Pull(context.Context, map[string]string, string) error    { return nil }
func (p *fakeBackuper) Push(context.Context, map[string]string, string) error    { return nil }

func (p *fakeBackuper) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.captures
}

// TestBackupSchedule: a schedule set on a database is kept on its
// add-on's record; bad input is refused and changes nothing; the
// server's backup scheduler, on a clock of the test's, captures the
// database, as a scheduled backup (aNNN), when its hour comes in its
// time zone, and no more once it is unscheduled.
func TestBackupSchedule(t *testing.T) {
	e, _, _, _ := newEngine(t)
	p := &fakeBackuper{fakeProvider: fakeProvider{live: map[string]bool{}}}
	e.AddonProviders = map[string]engine.AddonProvider{"heroku-postgresql": p}
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	a, err := e.CreateAddon(context.Background(), engine.AddonRequest{App: "my-app", Service: "heroku-postgresql", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.ScheduleBackups("my-app", "", "2", "Europe/Paris", "", "u")
	if err != nil || s.Name != "DATABASE_URL" || s.Hour != 2 || s.Timezone != "Europe/Paris" {
		t.Fatalf("ScheduleBackups = %+v, %v", s, err)
	}
	for _, c := range []struct{ database, hour, zone, code string }{
		{"", "24", "UTC", engine.EINVALID},
		{"", "-1", "UTC", engine.EINVALID},
		{"", "two", "UTC", engine.EINVALID},
		{"", "3", "Mars/Olympus", engine.EINVALID},
		{"", "3", "../../etc/passwd", engine.EINVALID},
		{"", "3", "/etc/localtime", engine.EINVALID},
		{"NOPE", "3", "UTC", engine.ENOTFOUND},
	} {
		if _, err := e.ScheduleBackups("my-app", c.database, c.hour, c.zone, "", "u"); engine.ErrorCode(err) != c.code {
			t.Errorf("ScheduleBackups(%q, %q, %q) = %v, want %s", c.database, c.hour, c.zone, err, c.code)
		}
	}
	list, err := e.BackupSchedules("")
	if err != nil || len(list) != 1 || list[0].Schedule != *s || list[0].Addon.ID != a.ID || list[0].App != "my-app" {
		t.Fatalf("BackupSchedules after the refusals = %+v, %v", list, err)
	}

	var now time.Time
	b := scheduler.NewBackups(e)
	b.Now = func() time.Time { return now }
	round := func(at string, want int) {
		t.Helper()
		now, _ = time.Parse(time.RFC3339, at)
		b.Round(context.Background())
		b.Wait()
		if got := p.count(); got != want {
			t.Errorf("at %s: %d captures, want %d", at, got, want)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.byHand != 0 {
			t.Errorf("at %s: %d captures not begun as scheduled ones (aNNN)", at, p.byHand)
		}
	}
	round("2026-11-30T00:59:00Z", 0)
	round("2026-11-30T01:00:00Z", 1) // 02:00 in Paris
	round("2026-11-30T01:30:00Z", 1)
	if _, err := e.Unschedule("my-app", "", "", "u"); err != nil {
		t.Fatal(err)
	}
	round("2026-12-01T01:00:00Z", 1)
	if _, err := e.Unschedule("my-app", "", "", "u"); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("a second Unschedule = %v, want ENOTFOUND", err)
	}
}
