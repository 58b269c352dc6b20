package logs

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hako/engine"
)

func TestFrame(t *testing.T) {
	l := Line{Time: time.Date(2026, 11, 21, 6, 45, 29, 123456000, time.UTC), Source: "heroku", Proc: "web.3", Text: "State changed from starting to up"}
	got := Frame("app", l)
	want := "<40>1 2026-11-21T06:45:29.123456+00:00 host heroku web.3 - State changed from starting to up"
	if got != strconv.Itoa(len(want))+" "+want {
		t.Errorf("Frame = %q", got)
	}
	l.Source = "app"
	if !strings.HasPrefix(strings.SplitN(Frame("app", l), " ", 2)[1], "<190>1 ") {
		t.Errorf("app lines are local7.info: %q", Frame("app", l))
	}
}

// TestHTTPDrain checks that lines reach an HTTP drain in Logplex's shape.
func TestHTTPDrain(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		hdr = r.Header.Clone()
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	var b Buffer
	t.Cleanup(b.CloseDrains)
	b.SetDrains("app", []engine.Drain{{ID: "1", URL: srv.URL + "/logs", Token: "d.token"}})
	b.Log("app", "app", "web.1", "first line")
	b.Log("app", "heroku", "web.1", "second line")
	b.Log("other", "app", "web.1", "not mine")
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		all := strings.Join(bodies, "")
		h := hdr
		mu.Unlock()
		if strings.Contains(all, "second line") {
			if strings.Contains(all, "not mine") || !strings.Contains(all, "host app web.1 - first line") {
				t.Errorf("drained %q", all)
			}
			if h.Get("Content-Type") != "application/logplex-1" || h.Get("Logplex-Drain-Token") != "d.token" || h.Get("Logplex-Frame-Id") == "" {
				t.Errorf("headers %v", h)
			}
			if !regexp.MustCompile(`^\d+ <190>1 `).MatchString(all) {
				t.Errorf("not octet-counted: %q", all)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing drained: %q", all)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.SetDrains("app", nil)
}

// TestSyslogDrain checks RFC 6587 framing over TCP, and that a removed
// drain stops.
func TestSyslogDrain(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan string, 10)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			n, err := r.ReadString(' ')
			if err != nil {
				return
			}
			size, _ := strconv.Atoi(strings.TrimSpace(n))
			msg := make([]byte, size)
			if _, err := io.ReadFull(r, msg); err != nil {
				return
			}
			got <- string(msg)
		}
	}()
	var b Buffer
	t.Cleanup(b.CloseDrains)
	b.SetDrains("app", []engine.Drain{{ID: "1", URL: "syslog://" + l.Addr().String()}})
	b.Log("app", "app", "worker.1", "tick")
	select {
	case m := <-got:
		if !strings.HasSuffix(m, "host app worker.1 - tick") || !strings.HasPrefix(m, "<190>1 ") {
			t.Errorf("syslog message %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived over syslog")
	}
}

// TestDrainNeverBlocks checks that a drain that cannot keep up loses
// lines rather than blocking the writer.
func TestDrainNeverBlocks(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	var b Buffer
	t.Cleanup(b.CloseDrains)
	b.SetDrains("app", []engine.Drain{{ID: "1", URL: srv.URL}})
	done := make(chan struct{})
	go func() {
		for i := 0; i < 5*DrainBuffer; i++ {
			b.Log("app", "app", "web.1", "line")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("logging blocked on a stuck drain")
	}
}
