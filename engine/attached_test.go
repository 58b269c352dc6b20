package engine_test

import (
	"sync"
	"testing"

	"hako/engine"
)

// TestHoldAttached: a member holds at most MaxAttachedPerUser attached
// one-off dynos, even when many ask at once; the next is refused with
// ETOOMANY naming the flag and how to end one; a release gives the place
// back (once, however often it is called); another member's places are
// their own; an administrator and a server without a bound have none.
func TestHoldAttached(t *testing.T) {
	e := newAccountsEngine(t)
	e.MaxAttachedPerUser = 2
	for _, u := range []struct {
		email string
		admin bool
	}{{"ada@example.test", false}, {"bob@example.test", false}, {"teacher@example.test", true}} {
		if _, err := e.AddUser(u.email, u.admin); err != nil {
			t.Fatal(err)
		}
	}
	const want = "Cannot run more than 2 attached one-off dynos at once: end one (exit it, or find it with `ps` and stop it with `ps:stop run.N`) and try again, or ask an administrator to raise --max-attached-per-user."
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		releases []func()
		refused  int
	)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := e.HoldAttached("ada@example.test")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				releases = append(releases, release)
			case engine.ErrorCode(err) == engine.ETOOMANY && engine.ErrorMessage(err) == want:
				refused++
			default:
				t.Errorf("HoldAttached: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(releases) != 2 || refused != 8 {
		t.Fatalf("ada holds %d, %d refused; want 2 and 8", len(releases), refused)
	}
	// Another member is not bound by ada's count.
	if _, err := e.HoldAttached("bob@example.test"); err != nil {
		t.Errorf("bob's first: %v", err)
	}
	// A release called twice frees one place, not two.
	releases[0]()
	releases[0]()
	if _, err := e.HoldAttached("ada@example.test"); err != nil {
		t.Errorf("ada after a release: %v", err)
	}
	if _, err := e.HoldAttached("ada@example.test"); engine.ErrorCode(err) != engine.ETOOMANY {
		t.Errorf("ada past her bound after a double release: %v, want %s", err, engine.ETOOMANY)
	}
	for i := range 5 {
		if _, err := e.HoldAttached("teacher@example.test"); err != nil {
			t.Errorf("the administrator's %d: %v", i+1, err)
		}
	}
	e.MaxAttachedPerUser = 0
	if _, err := e.HoldAttached("ada@example.test"); err != nil {
		t.Errorf("ada without a bound: %v", err)
	}
}
