package engine_test

import (
	"fmt"
	"sync"
	"testing"

	"hako/engine"
	"hako/engine/scheduler"
)

// TestEntryBounds: a user's keys, tokens and pipelines and an app's
// scheduler jobs stop at their bounds, even when many are asked for at
// once: the one past is refused (EINVALID) and not stored, and another
// user's or app's count is their own.
func TestEntryBounds(t *testing.T) {
	e := newAccountsEngine(t)
	sched := scheduler.New()
	sched.SetEngine(e)
	e.Scheduler = sched
	for _, u := range []string{"ada@example.test", "bob@example.test"} {
		if _, err := e.AddUser(u, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.CreateApp("ada-app", "ada@example.test"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind  string
		max   int
		add   func(i int, user string) error
		count func(user string) int
	}{
		{"keys", engine.MaxKeysPerUser,
			func(i int, user string) error {
				_, err := e.AddKey(user, fmt.Sprintf("%s-key-%d", user, i))
				return err
			},
			func(user string) int {
				ks, _ := e.Keys(&engine.User{Email: user})
				return len(ks)
			}},
		{"tokens", engine.MaxTokensPerUser,
			func(i int, user string) error { _, _, err := e.CreateToken(user, "t"); return err },
			func(user string) int {
				ts, _ := e.Tokens(user)
				return len(ts)
			}},
		{"pipelines", engine.MaxPipelinesPerUser,
			func(i int, user string) error {
				_, err := e.CreatePipeline(fmt.Sprintf("p-%s-%d", user[:3], i), user)
				return err
			},
			func(user string) int {
				ps, _ := e.Pipelines()
				n := 0
				for _, p := range ps {
					if p.Owner == user {
						n++
					}
				}
				return n
			}},
		{"scheduler jobs", engine.MaxSchedulerJobs,
			func(i int, user string) error {
				_, err := e.AddSchedulerJob("ada-app", "every 10m", fmt.Sprintf("echo %d", i), user)
				return err
			},
			func(string) int {
				js, _ := e.SchedulerJobs("ada-app")
				return len(js)
			}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make([]error, tc.max+5)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = tc.add(i, "ada@example.test")
				}()
			}
			wg.Wait()
			refused := 0
			for _, err := range errs {
				if err != nil {
					if engine.ErrorCode(err) != engine.EINVALID {
						t.Fatalf("refusal: %v", err)
					}
					refused++
				}
			}
			if got := tc.count("ada@example.test"); refused != 5 || got != tc.max {
				t.Errorf("%d refused and %d kept; want 5 and %d", refused, got, tc.max)
			}
			if tc.kind != "scheduler jobs" {
				if err := tc.add(0, "bob@example.test"); err != nil {
					t.Errorf("bob's first refused: %v", err)
				}
			}
		})
	}
}
