package engine_test

import (
	"fmt"
	"sync"
	"testing"

	"hako/engine"
)

// TestMaxAppsPerUser: a member owns at most MaxAppsPerUser apps; the
// next is refused in Heroku's words and not made, even when many are
// asked for at once; an administrator has no limit.
func TestMaxAppsPerUser(t *testing.T) {
	e := newAccountsEngine(t)
	e.MaxAppsPerUser = 3
	for _, u := range []struct {
		email string
		admin bool
	}{{"ada@example.test", false}, {"bob@example.test", false}, {"teacher@example.test", true}} {
		if _, err := e.AddUser(u.email, u.admin); err != nil {
			t.Fatal(err)
		}
	}
	// Ten at once: three are made, seven refused.
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.CreateApp(fmt.Sprintf("ada-%d", i), "ada@example.test")
		}()
	}
	wg.Wait()
	const want = "You've reached the limit of 3 apps for members of this server. Delete some apps or ask an administrator to raise --max-apps-per-user."
	made := 0
	for i, err := range errs {
		switch {
		case err == nil:
			made++
		case engine.ErrorCode(err) != engine.EINVALID || engine.ErrorMessage(err) != want:
			t.Errorf("ada-%d: %v", i, err)
		default:
			if _, err := e.App(fmt.Sprintf("ada-%d", i)); engine.ErrorCode(err) != engine.ENOTFOUND {
				t.Errorf("refused ada-%d exists: %v", i, err)
			}
		}
	}
	if made != 3 {
		t.Errorf("ada made %d apps, want 3", made)
	}
	// Another member has a limit of their own.
	for i := 0; i < 3; i++ {
		if _, err := e.CreateApp(fmt.Sprintf("bob-%d", i), "bob@example.test"); err != nil {
			t.Fatalf("bob's app %d: %v", i, err)
		}
	}
	// An administrator has none.
	for i := 0; i < 5; i++ {
		if _, err := e.CreateApp(fmt.Sprintf("teacher-%d", i), "teacher@example.test"); err != nil {
			t.Fatalf("teacher's app %d: %v", i, err)
		}
	}
}
