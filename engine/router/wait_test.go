package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"hako/engine"
)

// okAnswer is what the raw dyno of these tests answers every request.
const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// dialReader opens a client connection to the harness's router.
func dialReader(t *testing.T, h *harness) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dialRouter(t, h, "")
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readOK reads one answer and fails unless it is the dyno's 200 "ok".
func readOK(t *testing.T, br *bufio.Reader, what string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("%s: %d %q %v", what, resp.StatusCode, body, err)
	}
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n"
}

// Between requests the loop waits for the client without first trying
// a read that would find nothing: a client that sends each request once
// it has the last answer costs no empty read per request.
func TestServeWaitsWithoutEmptyReads(t *testing.T) {
	h := newHarness(t, "", nil)
	_, be := startRawDyno(t, func(string) string { return okAnswer })
	h.router.SetBackends("myapp", []engine.Backend{be})
	c, br := dialReader(t, h)
	const n = 50
	for i := range n {
		if _, err := io.WriteString(c, get("/")); err != nil {
			t.Fatal(err)
		}
		readOK(t, br, "request "+string(rune('0'+i%10)))
	}
	c.Close()
	waitConnsGone(t, h.router)
	// The first read of a new connection may come before its request;
	// a spurious wake-up may cost one more. Trying before each wait
	// would cost about one a request.
	if got := h.router.emptyReads.Load(); got > 5 {
		t.Errorf("%d reads that found nothing for %d requests in turn, want at most 5", got, n)
	}
}

// waitConnsGone polls until the router has let go of every client
// connection (their counts are added then).
func waitConnsGone(t *testing.T, rt *Router) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		rt.srvMu.Lock()
		left := len(rt.conns)
		rt.srvMu.Unlock()
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d client connections still served", left)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// What a client may do between and within requests is all served while
// the loop skips empty reads: requests sent before their answers came
// (pipelined), a head sent a byte at a time, a body sent after its head
// (served outside the wait), a half-closed connection, a silent one.
func TestServeWaitingClients(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, c net.Conn, br *bufio.Reader)
		want []string // what the dyno received, in order (paths, bodies)
	}{{
		name: "pipelined then one more",
		run: func(t *testing.T, c net.Conn, br *bufio.Reader) {
			io.WriteString(c, get("/1")+get("/2")+get("/3"))
			for _, p := range []string{"/1", "/2", "/3"} {
				readOK(t, br, p)
			}
			io.WriteString(c, get("/4"))
			readOK(t, br, "/4")
		},
		want: []string{"GET /1", "GET /2", "GET /3", "GET /4"},
	}, {
		name: "head a byte at a time",
		run: func(t *testing.T, c net.Conn, br *bufio.Reader) {
			for _, b := range []byte(get("/slow")) {
				c.Write([]byte{b})
				time.Sleep(time.Millisecond)
			}
			readOK(t, br, "/slow")
			io.WriteString(c, get("/next"))
			readOK(t, br, "/next")
		},
		want: []string{"GET /slow", "GET /next"},
	}, {
		name: "body after its head",
		run: func(t *testing.T, c net.Conn, br *bufio.Reader) {
			io.WriteString(c, "POST /up HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: 5\r\n\r\n")
			time.Sleep(20 * time.Millisecond)
			io.WriteString(c, "hello")
			readOK(t, br, "/up")
			io.WriteString(c, get("/after"))
			readOK(t, br, "/after")
		},
		want: []string{"POST /up", "hello", "GET /after"},
	}, {
		name: "half-closed after its request",
		run: func(t *testing.T, c net.Conn, br *bufio.Reader) {
			io.WriteString(c, get("/last"))
			c.(*net.TCPConn).CloseWrite()
			readOK(t, br, "/last")
			if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("after the answer: %d, %v; want the connection closed", n, err)
			}
		},
		want: []string{"GET /last"},
	}, {
		name: "silent past the idle timeout",
		run: func(t *testing.T, c net.Conn, br *bufio.Reader) {
			io.WriteString(c, get("/once"))
			readOK(t, br, "/once")
			if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("idle: %d, %v; want the connection closed by the router", n, err)
			}
		},
		want: []string{"GET /once"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "", func(rt *Router) { rt.IdleTimeout = 300 * time.Millisecond })
			dyno, be := startRawDyno(t, func(string) string { return okAnswer })
			h.router.SetBackends("myapp", []engine.Backend{be})
			c, br := dialReader(t, h)
			tt.run(t, c, br)
			var got []string
			for _, r := range dyno.received() {
				head, body, _ := strings.Cut(r, "\n")
				got = append(got, head)
				if b := body[strings.Index(body, "\n\n")+2:]; b != "" {
					got = append(got, b)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("the dyno received %q, want %q", got, tt.want)
			}
		})
	}
}
