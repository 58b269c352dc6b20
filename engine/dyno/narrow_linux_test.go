package dyno

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNarrowAddonReach: a one-off dyno running when its app loses an
// add-on (addons:detach) reaches it no more once NarrowAddonReach is
// called, where its URL points as at the gateway; a dyno of another app
// that keeps its add-on keeps its reach.
func TestNarrowAddonReach(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces, StopGrace: time.Second})
	if s.net == nil {
		t.Fatalf("no network: %s", s.Isolation())
	}
	l, err := net.Listen("tcp", net.JoinHostPort(s.net.gateway.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	if err := s.Expose(port); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	attached := map[string]bool{"first": true, "second": true}
	s.SetAddonReach(func(app string) []int {
		mu.Lock()
		defer mu.Unlock()
		if attached[app] {
			return []int{port}
		}
		return nil
	})
	// Each dyno probes, waits for a line, probes again.
	probe := fmt.Sprintf(`python3 -c '
import socket, sys
def probe(when):
    for host in ("127.0.0.1", %q):
        s = socket.socket(); s.settimeout(1)
        print(when, "loopback" if host == "127.0.0.1" else "gateway", "reached" if s.connect_ex((host, %d)) == 0 else "unreached", flush=True)
probe("before")
sys.stdin.readline()
probe("after")
'`, s.net.gateway.String(), port)
	type run struct {
		in   *io.PipeWriter
		out  *syncBuffer
		done chan error
	}
	runs := map[string]*run{}
	for _, app := range []string{"first", "second"} {
		pr, pw := io.Pipe()
		r := &run{in: pw, out: &syncBuffer{}, done: make(chan error, 1)}
		runs[app] = r
		sp := spec(t, "run", "run.1", probe)
		sp.App = app
		go func() {
			code, err := s.RunOnce(context.Background(), sp, pr, r.out)
			if err == nil && code != 0 {
				err = fmt.Errorf("exit %d", code)
			}
			r.done <- err
		}()
		t.Cleanup(func() { pw.Close() })
	}
	for app, r := range runs {
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(r.out.String(), "before gateway ") {
			if time.Now().After(deadline) {
				t.Fatalf("%s's dyno did not probe:\n%s", app, r.out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	mu.Lock()
	attached["first"] = false
	mu.Unlock()
	if err := s.NarrowAddonReach("first"); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"first":  {"before loopback reached", "before gateway reached", "after loopback unreached", "after gateway unreached"},
		"second": {"before loopback reached", "before gateway reached", "after loopback reached", "after gateway reached"},
	}
	for app, r := range runs {
		io.WriteString(r.in, "\n")
		if err := <-r.done; err != nil {
			t.Fatalf("%s: %v\n%s", app, err, r.out.String())
		}
		for _, w := range want[app] {
			if !strings.Contains("\n"+r.out.String(), "\n"+w+"\n") {
				t.Errorf("a dyno of %s: no line %q in:\n%s", app, w, r.out.String())
			}
		}
	}
}
