package logs

import (
	"testing"
	"time"
)

func TestSubscribeAll(t *testing.T) {
	var b Buffer
	urgent := func(app string, l Line) bool { return l.Proc != "router" }
	tail, stop := b.SubscribeAll(urgent)
	b.Log("a", "heroku", "router", "one")
	// A line that is not urgent queues without a signal.
	select {
	case <-tail.Ready:
		t.Fatal("a router line signalled Ready")
	default:
	}
	b.Log("b", "app", "web.1", "two")
	select {
	case <-tail.Ready:
	case <-time.After(time.Second):
		t.Fatal("an urgent line did not signal Ready")
	}
	got := tail.Take()
	want := []AppLine{{App: "a", Line: Line{Source: "heroku", Proc: "router", Text: "one"}}, {App: "b", Line: Line{Source: "app", Proc: "web.1", Text: "two"}}}
	if len(got) != len(want) {
		t.Fatalf("took %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		got[i].Time = time.Time{}
		if got[i] != want[i] {
			t.Fatalf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := len(tail.Take()); n != 0 {
		t.Fatalf("a second Take got %d lines", n)
	}
	// A reader that falls behind loses lines, counted; writers never wait.
	for i := 0; i < AllTailBuffer+10; i++ {
		b.Log("a", "app", "web.1", "x")
	}
	if got := tail.Dropped.Load(); got != 10 {
		t.Fatalf("dropped %d, want 10", got)
	}
	if n := len(tail.Take()); n != AllTailBuffer {
		t.Fatalf("took %d lines, want %d", n, AllTailBuffer)
	}
	stop()
	b.Log("a", "app", "web.1", "after")
	if n := len(tail.Take()); n != 0 {
		t.Fatal("a line reached a stopped tail")
	}
}

// BenchmarkLog is the cost of a router line, without and with the
// dashboard's tail of every app (taken in batches, as the dashboard
// does).
func BenchmarkLog(b *testing.B) {
	for _, withAll := range []bool{false, true} {
		name := "alone"
		if withAll {
			name = "with-all-tail"
		}
		b.Run(name, func(b *testing.B) {
			var buf Buffer
			if withAll {
				tail, stop := buf.SubscribeAll(func(string, Line) bool { return false })
				defer stop()
				done := make(chan struct{})
				go func() {
					tick := time.NewTicker(10 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-tick.C:
							tail.Take()
						case <-done:
							return
						}
					}
				}()
				defer close(done)
			}
			for b.Loop() {
				buf.Log("app", "heroku", "router", "at=info method=GET path=\"/\" host=app.localhost dyno=web.1 connect=0ms service=1ms status=200 bytes=5")
			}
		})
	}
}
