package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hako/engine"
)

// A dyno's write reaches the client before the dyno finishes, even with
// a Content-Length (no chunking for the proxy to notice).
func TestStreamingFlushesEachWrite(t *testing.T) {
	h := newHarness(t, "", nil)
	release := make(chan struct{})
	defer close(release) // before the dyno's server is closed
	h.router.SetBackends("myapp", []engine.Backend{handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "-last")
	})})
	req, _ := http.NewRequest("GET", h.front.URL+"/", nil)
	req.Host = "myapp.localhost"
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != "first" {
		t.Fatalf("first write: %q, %v", got, err)
	}
}

// A WebSocket-style upgrade gets the dyno's 101 and then carries bytes
// both ways.
func TestUpgrade(t *testing.T) {
	h := newHarness(t, "", nil)
	h.router.SetBackends("myapp", []engine.Backend{handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "no upgrade", http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	})})
	c, err := net.Dial("tcp", h.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: myapp.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answer: %v, %v", resp, err)
	}
	io.WriteString(c, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo ping\n" {
		t.Fatalf("after upgrade: %q, %v", line, err)
	}
	c.Close() // the line is logged when the upgraded connection ends
	h.sink.waitFor(t, "myapp", "at=info", "status=101")
}

// closingDyno answers each connection's first request with keep-alive
// headers, then closes the connection, as a dyno whose keep-alive
// timeout ran out does; it counts the connections.
func closingDyno(t *testing.T) (*fakeBackend, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
			}()
		}
	}()
	return &fakeBackend{addr: ln.Addr().String(), up: true, name: "web.1", state: engine.DynoUp}, &conns
}

// A pooled connection the dyno closed is never an error for the client:
// right away (the request is sent again on a new connection) or after a
// while idle (the closed connection is noticed before use).
func TestStaleKeepAlive(t *testing.T) {
	for _, pause := range []time.Duration{0, 400 * time.Millisecond} {
		h := newHarness(t, "", nil)
		be, conns := closingDyno(t)
		h.router.SetBackends("myapp", []engine.Backend{be})
		for i := 0; i < 5; i++ {
			resp, body := h.get(t, "myapp.localhost", "/", nil)
			if resp.StatusCode != http.StatusOK || body != "ok" {
				t.Fatalf("pause %v, request %d: %d %q", pause, i, resp.StatusCode, body)
			}
			time.Sleep(pause)
		}
		if n := conns.Load(); n < 5 {
			t.Errorf("pause %v: %d connections for 5 requests to a dyno that closes each", pause, n)
		}
	}
}

// Requests with bodies reach the dyno whole, one after another, and so
// do the answers.
func TestBodiesReuseConnection(t *testing.T) {
	h := newHarness(t, "", nil)
	be := handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, strings.ToUpper(string(b)))
	})
	h.router.SetBackends("myapp", []engine.Backend{be})
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequest("POST", h.front.URL+"/", strings.NewReader(strings.Repeat("abc", 10000)))
		req.Host = "myapp.localhost"
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != strings.Repeat("ABC", 10000) {
			t.Fatalf("request %d: %d, %d bytes", i, resp.StatusCode, len(b))
		}
	}
}
