package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"hako/engine"
)

// transferBackuper is a heroku-postgresql provider that numbers every
// transfer from one counter, keeps the backups it captured, fails a
// capture when told, and holds each restore until its context ends or
// release is closed.
type transferBackuper struct {
	fakeProvider
	mu      sync.Mutex
	last    int
	kept    []engine.PGBackup
	fail    error
	release chan struct{}
	began   chan struct{}
}

func (p *transferBackuper) Number(map[string]string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last++
	return p.last, nil
}
func (p *transferBackuper) Backups(map[string]string) ([]engine.PGBackup, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]engine.PGBackup(nil), p.kept...), nil
}
func (p *transferBackuper) Begin(ctx context.Context, res map[string]string, scheduled bool) (*engine.PGCapture, error) {
	n, _ := p.Number(res)
	bk := engine.PGBackup{ID: "b00" + string(rune('0'+n)), Num: n, CreatedAt: time.Now().UTC(), Path: "/nonexistent"}
	return &engine.PGCapture{Backup: bk, Run: func(context.Context) (*engine.PGBackup, []string, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.fail != nil {
			return nil, nil, p.fail
		}
		p.kept = append(p.kept, bk)
		return &bk, nil, nil
	}}, nil
}
func (p *transferBackuper) Restore(ctx context.Context, _ map[string]string, _ string) error {
	p.began <- struct{}{}
	select {
	case <-ctx.Done():
		return engine.Errorf(engine.EINVALID, "pg_restore stopped")
	case <-p.release:
		return nil
	}
}
func (p *transferBackuper) Delete(map[string]string, string) error                { return nil }
func (p *transferBackuper) Pull(context.Context, map[string]string, string) error { return nil }
func (p *transferBackuper) Push(context.Context, map[string]string, string) error { return nil }

// TestPGTransferRecords: restores share their database's sequence of
// numbers with its backups (b001, then r002), are recorded running, can
// be canceled (recorded canceled, not succeeded) and not canceled again;
// a failed capture keeps its number and is listed failed; all of them
// are kept in the store, so that an engine started anew over it (a
// server restart) lists them, and one cut by the restart is shown
// failed; at most 30 are kept, the oldest ended dropped first. Unknown
// names and another app's databases are not found and change nothing.
func TestPGTransferRecords(t *testing.T) {
	e, _, _, _ := newEngine(t)
	p := &transferBackuper{fakeProvider: fakeProvider{live: map[string]bool{}}, release: make(chan struct{}), began: make(chan struct{}, 4)}
	e.AddonProviders = map[string]engine.AddonProvider{"heroku-postgresql": p}
	ctx := context.Background()
	for _, app := range []string{"my-app", "other-app"} {
		if _, err := e.CreateApp(app, "u"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.CreateAddon(ctx, engine.AddonRequest{App: app, Service: "heroku-postgresql", User: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if bk, _, err := e.CaptureBackup(ctx, "my-app", "", "u"); err != nil || bk.ID != "b001" {
		t.Fatalf("capture = %+v, %v", bk, err)
	}
	if _, err := e.RestoreBackup(ctx, "my-app", "b001", "", "wrong", "u"); engine.ErrorCode(err) != engine.EINVALID {
		t.Fatalf("restore without --confirm: %v", err)
	}

	// A restore, canceled while it runs.
	done := make(chan error, 1)
	go func() { _, err := e.RestoreBackup(ctx, "my-app", "b001", "", "my-app", "u"); done <- err }()
	<-p.began
	list, err := e.Transfers("my-app")
	if err != nil || len(list) != 1 || list[0].Name() != "r002" || !list[0].Running() || list[0].From != "my-app::b001" || list[0].To != "DATABASE" {
		t.Fatalf("transfers during the restore = %+v, %v", list, err)
	}
	// A second restore into the database while one runs is refused and
	// takes no number.
	if _, err := e.RestoreBackup(ctx, "my-app", "b001", "", "my-app", "u"); engine.ErrorCode(err) != engine.ECONFLICT ||
		engine.ErrorMessage(err) != "Restore r002 into "+list[0].Addon+" is running: wait for it to finish, or stop it with pg:backups:cancel r002." {
		t.Errorf("a second restore while r002 runs: %v", err)
	}
	for _, c := range []struct{ app, ref string }{{"my-app", "r999"}, {"other-app", "r002"}, {"my-app", "b001"}} {
		if _, err := e.CancelTransfer(c.app, "", c.ref, "u"); engine.ErrorCode(err) != engine.ENOTFOUND {
			t.Errorf("cancel %s of %s: %v, want ENOTFOUND", c.ref, c.app, err)
		}
	}
	got, err := e.CancelTransfer("my-app", "", "r002", "u")
	if err != nil || !got.Canceled || got.Succeeded || got.Running() {
		t.Fatalf("cancel r002 = %+v, %v", got, err)
	}
	if err := <-done; engine.ErrorMessage(err) != "Restore r002 was canceled (pg:backups:cancel): DATABASE was not changed." {
		t.Errorf("the canceled restore: %v", err)
	}
	if _, err := e.CancelTransfer("my-app", "", "r002", "u"); engine.ErrorCode(err) != engine.ECONFLICT {
		t.Errorf("a second cancel of r002: %v, want ECONFLICT", err)
	}

	// A restore that succeeds takes the next number; so does a failed
	// capture, which is kept.
	close(p.release)
	if _, err := e.RestoreBackup(ctx, "my-app", "b001", "", "my-app", "u"); err != nil {
		t.Fatal(err)
	}
	<-p.began
	p.mu.Lock()
	p.fail = engine.Errorf(engine.EINVALID, "pg_dump failed: disk full")
	p.mu.Unlock()
	if _, _, err := e.CaptureBackup(ctx, "my-app", "", "u"); err == nil {
		t.Fatal("the failing capture succeeded")
	}
	// One cut by a server stop: recorded running, with no run behind it.
	app, _ := e.App("my-app")
	a := app.Addons[0]
	a.PGTransfers = append(a.PGTransfers, engine.PGTransfer{Num: 9, Kind: engine.TransferRestore, UUID: "cut", From: "my-app::b001", To: "DATABASE", CreatedAt: time.Now().UTC()})
	if _, err := e.Store.UpdateApp("my-app", func(x *engine.App) error { x.Addons[0] = a; return nil }); err != nil {
		t.Fatal(err)
	}

	restarted := engine.New(engine.Parts{Store: e.Store})
	restarted.AddonProviders = e.AddonProviders
	list, err = restarted.Transfers("my-app")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name                string
		succeeded, canceled bool
		message             string
	}
	var rows []row
	for _, x := range list {
		if x.Running() {
			t.Errorf("%s running after the restart", x.Name())
		}
		rows = append(rows, row{x.Name(), x.Succeeded, x.Canceled, x.Message})
	}
	want := []row{
		{"r002", false, true, "Restore r002 was canceled (pg:backups:cancel): DATABASE was not changed."},
		{"r003", true, false, "restore of my-app::b001 into DATABASE finished"},
		{"b004", false, false, "pg_dump failed: disk full"},
		{"r009", false, false, "The server stopped during the restore: it did not finish."},
	}
	if len(rows) != len(want) {
		t.Fatalf("after the restart: %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("after the restart, transfer %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
	if l, err := restarted.Transfers("other-app"); err != nil || len(l) != 0 {
		t.Errorf("other-app's transfers = %+v, %v; want none", l, err)
	}
	if _, err := restarted.CancelTransfer("my-app", "", "r009", "u"); engine.ErrorCode(err) != engine.ECONFLICT {
		t.Errorf("cancel of a transfer cut by the restart: %v, want ECONFLICT", err)
	}
	if _, err := restarted.DeleteTransfer("my-app", a.ID, "r003", "u"); engine.ErrorCode(err) != engine.EINVALID {
		t.Errorf("delete of a restore: %v, want EINVALID", err)
	}
	if _, err := restarted.DeleteTransfer("my-app", a.ID, "b004", "u"); err != nil {
		t.Errorf("delete of the failed capture: %v", err)
	}
	if l, _ := restarted.Transfers("my-app"); len(l) != 3 {
		t.Errorf("after deleting b004: %d transfers, want 3", len(l))
	}
	// At most 30 are kept: the oldest ended go first, the one the
	// restart cut short among them.
	for range 30 {
		if _, _, err := restarted.CaptureBackup(ctx, "my-app", "", "u"); err == nil {
			t.Fatal("the failing capture succeeded")
		}
	}
	l, _ := restarted.Transfers("my-app")
	if len(l) != 30 || l[0].Name() != "b005" || l[29].Name() != "b034" {
		t.Errorf("after 30 more failed captures: %d kept, from %s to %s; want 30, b005 to b034 (r002, r003 and the cut r009 dropped)", len(l), l[0].Name(), l[len(l)-1].Name())
	}
}
