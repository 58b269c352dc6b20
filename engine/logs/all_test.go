package logs

import (
	"testing"
	"time"
)

func TestSubscribeAll(t *testing.T) {
	var b Buffer
	tail, stop := b.SubscribeAll()
	b.Log("a", "heroku", "router", "one")
	b.Log("b", "app", "web.1", "two")
	for _, want := range []AppLine{{App: "a", Line: Line{Source: "heroku", Proc: "router", Text: "one"}}, {App: "b", Line: Line{Source: "app", Proc: "web.1", Text: "two"}}} {
		select {
		case got := <-tail.C:
			got.Time = time.Time{}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		case <-time.After(time.Second):
			t.Fatal("no line")
		}
	}
	// A reader that falls behind loses lines, counted; writers never wait.
	for i := 0; i < AllTailBuffer+10; i++ {
		b.Log("a", "app", "web.1", "x")
	}
	if got := tail.Dropped.Load(); got != 10 {
		t.Fatalf("dropped %d, want 10", got)
	}
	stop()
	b.Log("a", "app", "web.1", "after")
	if len(tail.C) != AllTailBuffer {
		t.Fatal("a line reached a stopped tail")
	}
}

// BenchmarkLog is the cost of a router line, without and with the
// dashboard's tail of every app (read as fast as it comes).
func BenchmarkLog(b *testing.B) {
	for _, withAll := range []bool{false, true} {
		name := "alone"
		if withAll {
			name = "with-all-tail"
		}
		b.Run(name, func(b *testing.B) {
			var buf Buffer
			if withAll {
				tail, stop := buf.SubscribeAll()
				defer stop()
				done := make(chan struct{})
				go func() {
					for {
						select {
						case <-tail.C:
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
