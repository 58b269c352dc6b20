package dyno

import (
	"context"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

// TestWebCyclingPreboot checks that a cycled web dyno is replaced the
// preboot way: a new process on a new port comes up while the old one
// serves, the dyno never leaves "up", and the old process stops only once
// the request leased to it is over.
func TestWebCyclingPreboot(t *testing.T) {
	needPython(t)
	for _, mode := range modes(t) {
		t.Run(modeName(mode), func(t *testing.T) {
			sink := &memSink{}
			s := newSupervisor(t, sink, Options{Isolate: mode, CycleAfter: time.Second, StopGrace: 5 * time.Second})
			name := uniqueName("web")
			d := start(t, s, spec(t, "web", name, `exec python3 -m http.server "$PORT" --bind 0.0.0.0`))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := d.WaitUp(ctx); err != nil {
				t.Fatalf("WaitUp: %v\n%s", err, sink.dump(name))
			}
			first, firstPID := d.Addr(), d.Status().PID
			addr, done, ok := d.(engine.Leaser).Lease()
			if !ok || addr != first {
				t.Fatalf("Lease = %q, %v; want %q", addr, ok, first)
			}
			// Until the switch and while the lease is held, the dyno is up
			// and the old process alive.
			deadline := time.Now().Add(20 * time.Second)
			for d.Addr() == first {
				if st := d.Status().State; st != engine.DynoUp {
					t.Fatalf("state %q while cycling:\n%s", st, sink.dump(name))
				}
				if time.Now().After(deadline) {
					t.Fatalf("never switched to a new process:\n%s", sink.dump(name))
				}
				time.Sleep(time.Millisecond)
			}
			if _, err := getBody("http://" + d.Addr() + "/"); err != nil {
				t.Errorf("the new process does not answer: %v", err)
			}
			time.Sleep(300 * time.Millisecond)
			if syscall.Kill(firstPID, 0) != nil {
				t.Fatalf("the old process stopped with a request still leased:\n%s", sink.dump(name))
			}
			if st := d.Status().State; st != engine.DynoUp {
				t.Errorf("state %q after the switch", st)
			}
			done()
			waitFor(t, 10*time.Second, "the old process to stop", func() bool { return syscall.Kill(firstPID, 0) != nil })
			if len(sink.find("heroku", name, "State changed from up to starting")) > 0 || len(sink.find("heroku", name, "crashed")) > 0 {
				t.Errorf("cycling took the dyno down:\n%s", sink.dump(name))
			}
		})
	}
}
