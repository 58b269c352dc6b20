//go:build unix

package dyno

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"hako/engine"
)

// syncBuffer is an io.Writer safe to read while a dyno writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunOnce(t *testing.T) {
	for _, mode := range modes(t) {
		t.Run(modeName(mode), func(t *testing.T) {
			sink := &memSink{}
			s := newSupervisor(t, sink, Options{Isolate: mode})
			name := uniqueName("run")
			out := &syncBuffer{}
			code, err := s.RunOnce(context.Background(), spec(t, "run", name, `cat; echo "dyno=$DYNO order=$PROFILE_ORDER" >&2; exit 7`),
				strings.NewReader("hello\nworld\n"), out)
			if err != nil || code != 7 {
				t.Fatalf("RunOnce = %d, %v; want 7, nil", code, err)
			}
			if want := "hello\nworld\ndyno=" + name + " order=a b profile\n"; out.String() != want {
				t.Errorf("output = %q, want %q", out.String(), want)
			}
			for _, line := range []string{"Starting process with command", "State changed from starting to up", "Process exited with status 7", "State changed from up to complete"} {
				if len(sink.find("heroku", name, line)) != 1 {
					t.Errorf("no platform line %q in:\n%s", line, sink.dump(name))
				}
			}
			if len(sink.find("app", name, "world")) != 1 {
				t.Errorf("output not logged:\n%s", sink.dump(name))
			}

			code, err = s.RunOnce(context.Background(), spec(t, "release", uniqueName("release"), "exit 0"), nil, nil)
			if err != nil || code != 0 {
				t.Errorf("RunOnce without stdin or out = %d, %v", code, err)
			}
		})
	}
}

// TestRunOnceStops: a one-off dyno stops when its context ends, when the
// supervisor stops everything, and, left running, at its daily cycle
// (a detached one-off runs no longer than any dyno), each the usual way.
func TestRunOnceStops(t *testing.T) {
	for _, how := range []string{"context", "StopAll", "cycle"} {
		t.Run(how, func(t *testing.T) {
			sink := &memSink{}
			opts := Options{StopGrace: 200 * time.Millisecond}
			if how == "cycle" {
				opts.CycleAfter = 2 * time.Second
			}
			s := newSupervisor(t, sink, opts)
			name := uniqueName("run")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &syncBuffer{}
			type result struct {
				code int
				err  error
			}
			res := make(chan result, 1)
			go func() {
				code, err := s.RunOnce(ctx, spec(t, "run", name, `trap '' TERM; echo ready; while :; do sleep 1; done`), nil, out)
				res <- result{code, err}
			}()
			waitFor(t, 10*time.Second, "the trap", func() bool { return strings.Contains(out.String(), "ready") })
			switch how {
			case "context":
				cancel()
			case "StopAll":
				s.StopAll()
			}
			var r result
			select {
			case r = <-res:
			case <-time.After(10 * time.Second):
				t.Fatal("RunOnce did not return")
			}
			if r.code != 137 || r.err == nil {
				t.Errorf("RunOnce = %d, %v; want 137 and an error", r.code, r.err)
			}
			if how == "context" && !errors.Is(r.err, context.Canceled) {
				t.Errorf("error %v does not wrap context.Canceled", r.err)
			}
			if len(sink.find("heroku", name, "Error R12")) != 1 {
				t.Errorf("no R12:\n%s", sink.dump(name))
			}
			want := 0
			if how == "cycle" {
				want = 1
			}
			if cycled := len(sink.find("heroku", name, "Cycling")); cycled != want {
				t.Errorf("%d Cycling lines:\n%s", cycled, sink.dump(name))
			}
			if left := processesWithEnv("DYNO=" + name); len(left) > 0 {
				t.Errorf("processes of %s left: %v", name, left)
			}
		})
	}
}

// TestRunOnceTerminal checks that an attached one-off dyno gets a real
// terminal of the user's size, follows resizes, and reads its input.
func TestRunOnceTerminal(t *testing.T) {
	for _, mode := range modes(t) {
		t.Run(modeName(mode), func(t *testing.T) {
			s := newSupervisor(t, &memSink{}, Options{Isolate: mode})
			resize := make(chan [2]uint16, 1)
			sp := spec(t, "run", uniqueName("run"), `test -t 0 && test -t 1 && echo "on a terminal $(tty)"; while read line; do echo "got $line: $(stty size)"; done`)
			sp.Terminal = &engine.Terminal{Cols: 100, Rows: 30, Resize: resize}
			out := &syncBuffer{}
			in, inW := io.Pipe()
			defer inW.Close()
			done := make(chan struct{})
			var code int
			var err error
			go func() {
				code, err = s.RunOnce(context.Background(), sp, in, out)
				// Writes to a dyno that is gone (or never started) fail
				// at once rather than block the test forever.
				in.Close()
				close(done)
			}()
			_, _ = io.WriteString(inW, "first\n")
			waitFor(t, 10*time.Second, "the first size", func() bool { return strings.Contains(out.String(), "got first: 30 100") })
			resize <- [2]uint16{120, 40}
			// The resize reaches the terminal asynchronously: ask again
			// until the dyno sees it.
			waitFor(t, 10*time.Second, "the resize", func() bool {
				_, _ = io.WriteString(inW, "again\n")
				return strings.Contains(out.String(), "got again: 40 120")
			})
			_, _ = io.WriteString(inW, "\x04") // ^D: end of input on a terminal
			<-done
			if err != nil || code != 0 {
				t.Fatalf("RunOnce = %d, %v\n%s", code, err, out.String())
			}
			if !strings.Contains(out.String(), "on a terminal /dev/pts/") {
				t.Errorf("the dyno was not on a terminal:\n%q", out.String())
			}
		})
	}
}
