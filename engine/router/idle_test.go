package router

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"hako/engine"
)

// readUntilClosed reads c until the router closes it, failing when it is
// still open after limit.
func readUntilClosed(t *testing.T, c net.Conn, limit time.Duration) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after %v; read %q", limit, b)
	}
	return string(b)
}

func dialRouter(t *testing.T, h *harness, raw string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", h.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c
}

// A dyno that began its answer and then sends nothing for the window is
// cut off (H15, Idle connection, status 503 in the log line), whether it
// said its length or streams chunks; one that keeps sending, more often
// than the window but for longer than it in all, is not.
func TestStreamIdleTimeout(t *testing.T) {
	const window = 200 * time.Millisecond
	h := newHarness(t, "", func(rt *Router) { rt.StreamIdleTimeout = window })
	_, silent := startRawDyno(t, func(string) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc" // 7 bytes short, then silence
	})
	silentChunks := handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "first")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // silent until the router lets go
	})
	steady := handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		for i := range 8 {
			fmt.Fprintf(w, "part %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(window * 2 / 5)
		}
	})
	for _, c := range []struct {
		app  string
		be   *fakeBackend
		body string
	}{{"silent", silent, "abc"}, {"chunks", silentChunks, "5\r\nfirst\r\n"}} {
		h.router.SetBackends(c.app, []engine.Backend{c.be})
		conn := dialRouter(t, h, "GET / HTTP/1.1\r\nHost: "+c.app+".localhost\r\n\r\n")
		got := readUntilClosed(t, conn, 10*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(got, "\r\n\r\n"+c.body) {
			t.Errorf("%s: the client got %q", c.app, got)
		}
		e := h.sink.waitFor(t, c.app, "code=H15")
		if !strings.HasPrefix(e.line, `at=error code=H15 desc="Idle connection" method=GET path="/" host=`+c.app+`.localhost `) || !strings.Contains(e.line, " status=503 ") {
			t.Errorf("%s: log line %q", c.app, e.line)
		}
	}
	h.router.SetBackends("steady", []engine.Backend{steady})
	resp, body := h.get(t, "steady.localhost", "/", nil)
	if resp.StatusCode != 200 || !strings.HasSuffix(body, "part 7\n") {
		t.Fatalf("a steady stream: %d %q", resp.StatusCode, body)
	}
	if e := h.sink.waitFor(t, "steady", "status="); strings.Contains(e.line, "H15") || !strings.Contains(e.line, " status=200 ") {
		t.Errorf("a steady stream was logged %q", e.line)
	}
}

// A WebSocket (forwarded by net/http) is ended after the window with
// nothing sent either way, and kept while either side sends more often.
func TestWebSocketIdleTimeout(t *testing.T) {
	const window = 300 * time.Millisecond
	h := newHarness(t, "", func(rt *Router) { rt.StreamIdleTimeout = window })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
				io.Copy(c, br) // echo, until the router closes it
			}()
		}
	}()
	h.router.SetBackends("ws", []engine.Backend{&fakeBackend{addr: ln.Addr().String(), up: true, name: "web.1", state: engine.DynoUp}})
	c := dialRouter(t, h, "GET /socket HTTP/1.1\r\nHost: ws.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	// Talking for twice the window, a message every third of it.
	for i := range 6 {
		msg := fmt.Sprintf("ping %d\n", i)
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := br.ReadString('\n'); err != nil || got != msg {
			t.Fatalf("message %d came back as %q, %v", i, got, err)
		}
		time.Sleep(window / 3)
	}
	// Then silence: the router ends it.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := br.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("after silence: read %d, %v; want the connection closed", n, err)
	}
}

// A dyno connection's read deadline is a tick shorter than the waits it
// serves (see upConn.setUntil): a dyno slower than several ticks to
// begin its answer, then silent for several ticks mid-answer, within the
// response timeout and the stream window, is answered whole with no
// H12 or H15; and the connection, idle past its last tick, serves the
// client's next request.
func TestDeadlineTicks(t *testing.T) {
	const pause = 3 * deadlineTick
	h := newHarness(t, "", func(rt *Router) {
		rt.ResponseTimeout = 4 * pause
		rt.StreamIdleTimeout = 3 * pause
	})
	var mu sync.Mutex
	var peers []string
	slow := handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		peers = append(peers, r.RemoteAddr)
		mu.Unlock()
		if r.URL.Path == "/again" {
			fmt.Fprint(w, "again")
			return
		}
		time.Sleep(pause)
		w.Header().Set("Content-Length", "10")
		fmt.Fprint(w, "first")
		w.(http.Flusher).Flush()
		time.Sleep(pause)
		fmt.Fprint(w, "-last")
	})
	h.router.SetBackends("slow", []engine.Backend{slow})
	c := dialRouter(t, h, "GET / HTTP/1.1\r\nHost: slow.localhost\r\n\r\n")
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * pause))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || err != nil || string(body) != "first-last" {
		t.Fatalf("slow answer: %d %q %v", resp.StatusCode, body, err)
	}
	if e := h.sink.waitFor(t, "slow", "status="); !strings.HasPrefix(e.line, "at=info ") || !strings.Contains(e.line, " status=200 ") {
		t.Errorf("the slow answer was logged %q", e.line)
	}
	time.Sleep(deadlineTick + peekAfter)
	if _, err := io.WriteString(c, "GET /again HTTP/1.1\r\nHost: slow.localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * pause))
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || err != nil || string(body) != "again" {
		t.Fatalf("the next answer: %d %q %v", resp.StatusCode, body, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(peers) != 2 || peers[0] != peers[1] {
		t.Errorf("the dyno saw the requests from %v; want both on one kept connection", peers)
	}
}
