package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hako/engine"
)

// rawDyno is a dyno that reads each request head (and a Content-Length
// body) and answers with what answer returns, written as is; it keeps
// what it received and counts its connections.
type rawDyno struct {
	mu    sync.Mutex
	got   []string // request heads and bodies, as received
	conns atomic.Int64
}

func startRawDyno(t *testing.T, answer func(head string) string) (*rawDyno, *fakeBackend) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &rawDyno{}
	var wg sync.WaitGroup
	var open sync.Map
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d.conns.Add(1)
			open.Store(c, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					var head strings.Builder
					head.WriteString(req.Method + " " + req.RequestURI + "\n")
					_ = req.Header.Write(&head)
					d.mu.Lock()
					d.got = append(d.got, head.String()+"\n"+string(body))
					d.mu.Unlock()
					out := answer(req.RequestURI)
					if _, err := io.WriteString(c, out); err != nil || out == "" || strings.HasSuffix(out, "\x00close") {
						return
					}
				}
			}()
		}
	}()
	return d, &fakeBackend{addr: ln.Addr().String(), up: true, name: "web.1", state: engine.DynoUp}
}

func (d *rawDyno) received() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.got...)
}

// exchange sends raw on a new connection to the router and returns
// everything read until the router closes it or a second passes idle.
func (h *harness) exchange(t *testing.T, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", h.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	buf := make([]byte, 64<<10)
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

// withoutDate drops the Date line, which changes by the second.
func withoutDate(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\r\n") {
		if !strings.HasPrefix(l, "Date: ") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// The loop forwards answers as the dyno framed them and keeps both
// connections for the next request: fixed length, chunked with
// trailers, bodiless ones; hop-by-hop headers stop at the router.
func TestServeForwardsFraming(t *testing.T) {
	answers := map[string]string{
		"/fixed":   "HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 5\r\n\r\nhello",
		"/chunked": "HTTP/1.1 200 OK\r\nDate: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n",
		"/empty":   "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n",
		"/hop":     "HTTP/1.1 200 OK\r\nDate: x\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
		"/nodate":  "HTTP/1.1 201 Made\r\nContent-Length: 0\r\n\r\n",
	}
	h := newHarness(t, "", nil)
	dyno, be := startRawDyno(t, func(uri string) string { return answers[uri] })
	h.router.SetBackends("myapp", []engine.Backend{be})
	req := func(path string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n"
	}
	got := h.exchange(t, req("/fixed")+req("/chunked")+req("/empty")+req("/hop")+req("/nodate")+
		"HEAD /fixed HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n")
	want := "HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 200 OK\r\nDate: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 2\r\n\r\nok" +
		"HTTP/1.1 201 Made\r\nContent-Length: 0\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 5\r\n\r\n"
	if withoutDate(got) != withoutDate(want) {
		t.Errorf("answers:\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(got, "Created") && !strings.Contains(got, "\r\nDate: ") {
		t.Errorf("no Date added: %q", got)
	}
	if n := dyno.conns.Load(); n != 1 {
		t.Errorf("%d connections to the dyno for 6 requests, want 1", n)
	}
	h.sink.waitFor(t, "myapp", `path="/chunked"`, "status=200 bytes=5")
	h.sink.waitFor(t, "myapp", `method=HEAD path="/fixed"`, "status=200 bytes=0")
}

// A dyno answering HTTP/1.0 without a length: its body ends with its
// connection, and so does the client's, told so.
func TestServeCloseDelimited(t *testing.T) {
	h := newHarness(t, "", nil)
	_, be := startRawDyno(t, func(string) string { return "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it\x00close" })
	h.router.SetBackends("myapp", []engine.Backend{be})
	got := withoutDate(h.exchange(t, "GET / HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n"))
	if want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nall of it\x00close"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The dyno sees the client's headers but the hop-by-hop ones and those
// only the router may set, whatever the client claims.
func TestServeStripsClientHeaders(t *testing.T) {
	h := newHarness(t, "", nil)
	dyno, be := startRawDyno(t, func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" })
	h.router.SetBackends("myapp", []engine.Backend{be})
	h.exchange(t, "POST /p?q=1 HTTP/1.1\r\nHost: myapp.localhost\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n"+
		"X-Forwarded-Host: evil.example\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n"+
		"X-Request-Start: 1\r\nProxy-Authorization: Basic eA==\r\nProxy-Connection: x\r\nX-App: kept\r\nContent-Length: 4\r\n\r\nbody")
	got := dyno.received()
	if len(got) != 1 {
		t.Fatalf("dyno received %d requests: %q", len(got), got)
	}
	r := got[0]
	for _, banned := range []string{"Keep-Alive", "X-Forwarded-Host", "Forwarded:", "Proxy-Authorization", "Proxy-Connection", "X-Forwarded-Proto: https", "X-Forwarded-Port: 443", "X-Request-Start: 1\r\n"} {
		if strings.Contains(r, banned) {
			t.Errorf("the dyno saw %q:\n%s", banned, r)
		}
	}
	for _, line := range []string{"POST /p?q=1\n", "X-App: kept\r\n", "X-Forwarded-Proto: http\r\n", "X-Forwarded-Port: " + h.port() + "\r\n", "Via: 1.1 vegur\r\n", "X-Forwarded-For: 127.0.0.1\r\n", "\nbody"} {
		if !strings.Contains(r, line) {
			t.Errorf("the dyno did not see %q:\n%s", line, r)
		}
	}
}

// What the loop leaves to net/http is served all the same: a head larger
// than its buffer, a body larger than it sends, a chunked upload, an
// HTTP/1.0 client, Expect: 100-continue.
func TestServeHandsOver(t *testing.T) {
	h := newHarness(t, "", nil)
	be := handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.Header.Get("X-Big")[:3]+" "+strings.ToUpper(string(b[:min(len(b), 3)])))
	})
	h.router.SetBackends("myapp", []engine.Backend{be})
	big := strings.Repeat("b", 6000)
	tests := []struct {
		name, raw, want string
	}{
		{"large head", "GET / HTTP/1.1\r\nHost: myapp.localhost\r\nX-Big: " + big + "\r\nConnection: close\r\n\r\n", "GET bbb "},
		{"large body", "POST / HTTP/1.1\r\nHost: myapp.localhost\r\nX-Big: abc\r\nConnection: close\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("x", 70000), "POST abc XXX"},
		{"chunked upload", "POST / HTTP/1.1\r\nHost: myapp.localhost\r\nX-Big: abc\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nyes\r\n0\r\n\r\n", "POST abc YES"},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: myapp.localhost\r\nX-Big: abc\r\n\r\n", "GET abc "},
		{"expect", "POST / HTTP/1.1\r\nHost: myapp.localhost\r\nX-Big: abc\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok", "POST abc OK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := h.exchange(t, tc.raw)
			if !strings.HasPrefix(got, "HTTP/1.") || !strings.HasSuffix(got, "\r\n\r\n"+tc.want) {
				t.Errorf("got %q, want an answer ending %q", got, tc.want)
			}
		})
	}
}

// Requests that could make the router and a dyno disagree on where one
// ends are refused before any dyno sees them.
func TestServeRefusesAmbiguousRequests(t *testing.T) {
	h := newHarness(t, "", nil)
	dyno, be := startRawDyno(t, func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" })
	h.router.SetBackends("myapp", []engine.Backend{be})
	for _, raw := range []string{
		"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nbody",
		"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: +4\r\n\r\nbody",
		"GET / HTTP/1.1\r\nHost: myapp.localhost\r\nHost: other.localhost\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: myapp.localhost\r\nX-Nul: a\x00b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: myapp.localhost\r\n folded: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: myapp.localhost\r\nBad Name: x\r\n\r\n",
	} {
		got := h.exchange(t, raw)
		if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
			t.Errorf("%q: got %q, want a 400", raw, got)
		}
	}
	if got := dyno.received(); len(got) != 0 {
		t.Errorf("the dyno received %q", got)
	}
}

// A dyno's malformed answer is the client's H13, never forwarded.
func TestServeMalformedAnswer(t *testing.T) {
	for _, answer := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
	} {
		h := newHarness(t, "", nil)
		_, be := startRawDyno(t, func(string) string { return answer })
		h.router.SetBackends("myapp", []engine.Backend{be})
		resp, body := h.get(t, "myapp.localhost", "/", nil)
		if resp.StatusCode != 503 || !strings.Contains(body, "Application error") {
			t.Errorf("%q: %d %q, want the application error", answer, resp.StatusCode, body)
		}
		h.sink.waitFor(t, "myapp", "at=error code=H13", "status=503")
	}
}

// A request the dyno reads only partly is not followed on that
// connection by the next one: a dyno that closes early costs a new
// connection, not a mixed-up request.
func TestServeDynoClosesEarly(t *testing.T) {
	h := newHarness(t, "", nil)
	dyno, be := startRawDyno(t, func(uri string) string {
		if uri == "/close" {
			return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok\x00close"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	h.router.SetBackends("myapp", []engine.Backend{be})
	for _, p := range []string{"/close", "/a", "/close", "/b"} {
		resp, body := h.get(t, "myapp.localhost", p, nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "ok") {
			t.Fatalf("%s: %d %q", p, resp.StatusCode, body)
		}
	}
	if n := dyno.conns.Load(); n != 3 {
		t.Errorf("%d dyno connections, want 3 (one after each close)", n)
	}
}

// Shutdown closes idle client connections at once and waits for one
// under way to be answered.
func TestServeShutdown(t *testing.T) {
	sink := newSink()
	rt := New("", sink)
	release := make(chan struct{})
	be := handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	})
	rt.SetBackends("myapp", []engine.Backend{be})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ln) }()
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET / HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the request reaches the dyno
	shut := make(chan error, 1)
	go func() { shut <- rt.Shutdown(t.Context()) }()
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idle.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("idle connection: read %d, %v; want it closed", n, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request under way", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("request under way: %v, %v", resp, err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
}
