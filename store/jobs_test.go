package store

import (
	"testing"
	"time"

	"hako/engine"
)

// Jobs are kept per app: declared ones replaced together, hand-added ones
// kept, runs recorded, and all gone with the app.
func TestSchedulerJobs(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "a", engine.ReleaseSucceeded)
	mustCreateApp(t, s, "b", engine.ReleaseSucceeded)
	if err := s.PutSchedulerJob(&engine.SchedulerJob{ID: "j1", App: "nope", Schedule: "@daily", Command: "x"}); code(err) != engine.ENOTFOUND {
		t.Fatalf("job of a missing app: %v", err)
	}
	hand := &engine.SchedulerJob{ID: "h1", App: "a", Schedule: "@daily", Command: "x", CreatedAt: t0, NextRun: t0}
	if err := s.PutSchedulerJob(hand); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSchedulerJob(&engine.SchedulerJob{ID: "h2", App: "b", Schedule: "@daily", Command: "y", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for round, ids := range [][]string{{"d1", "d2"}, {"d3"}} {
		var jobs []*engine.SchedulerJob
		for i, id := range ids {
			jobs = append(jobs, &engine.SchedulerJob{ID: id, App: "a", Schedule: "@hourly", Command: id, CreatedAt: t0.Add(time.Duration(i+1) * time.Second)})
		}
		if err := s.SetDeclaredJobs("a", jobs); err != nil {
			t.Fatal(err)
		}
		got, err := s.SchedulerJobs("a")
		if err != nil {
			t.Fatal(err)
		}
		want := append([]string{"h1"}, ids...)
		if len(got) != len(want) {
			t.Fatalf("round %d: %d jobs, want %v", round, len(got), want)
		}
		for i, j := range got {
			if j.ID != want[i] || j.Declared != (i > 0) || !j.NextRun.IsZero() {
				t.Errorf("round %d: job %d = %+v, want %s", round, i, j, want[i])
			}
		}
	}
	if err := s.SetJobRun("a", "h1", t0, "scheduler.1234", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.SetJobRun("a", "gone", t0, "scheduler.1", 0); err != nil {
		t.Fatalf("a run of a removed job: %v", err)
	}
	all, err := s.SchedulerJobs("")
	if err != nil || len(all) != 3 {
		t.Fatalf("every job: %v %v", all, err)
	}
	if all[0].ID != "h1" || all[0].LastDyno != "scheduler.1234" || all[0].LastStatus != 3 || !all[0].LastRun.Equal(t0) {
		t.Errorf("run not recorded: %+v", all[0])
	}
	if err := s.DeleteSchedulerJob("a", "h1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSchedulerJob("a", "h1"); code(err) != engine.ENOTFOUND {
		t.Errorf("second delete: %v", err)
	}
	if _, err := s.DeleteApp("a"); err != nil {
		t.Fatal(err)
	}
	mustCreateApp(t, s, "a", engine.ReleaseSucceeded)
	if got, _ := s.SchedulerJobs("a"); len(got) != 0 {
		t.Errorf("a new app of a deleted one's name has its jobs: %+v", got)
	}
	if got, _ := s.SchedulerJobs("b"); len(got) != 1 {
		t.Errorf("b's jobs: %+v", got)
	}
}
