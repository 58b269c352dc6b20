package main

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestReadResponse reads responses of every framing from a real
// net/http server, two on one connection where it stays open.
func TestReadResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			fmt.Fprint(w, "hello from go\n")
		case "/chunked":
			fmt.Fprint(w, "part one, ")
			w.(http.Flusher).Flush()
			fmt.Fprint(w, strings.Repeat("x", 40000))
		case "/close":
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, "bye")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/missing":
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		path   string
		status int
		keep   bool
	}{
		{"/length", 200, true},
		{"/chunked", 200, true},
		{"/close", 200, false},
		{"/nocontent", 204, true},
		{"/missing", 404, true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { nc.Close() })
			br := bufio.NewReaderSize(nc, 16<<10)
			req := "GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n"
			rounds := 2
			if !tc.keep {
				rounds = 1
			}
			for range rounds {
				if _, err := nc.Write([]byte(req)); err != nil {
					t.Fatal(err)
				}
				status, keep, err := readResponse(br)
				if err != nil {
					t.Fatal(err)
				}
				if status != tc.status || keep != tc.keep {
					t.Fatalf("got status %d keep %v, want %d %v", status, keep, tc.status, tc.keep)
				}
			}
			if br.Buffered() != 0 {
				t.Fatalf("%d bytes left unread after the responses", br.Buffered())
			}
		})
	}
}

// TestReadResponseAllocates nothing: the generator's garbage collection
// would count as the server's latency.
func TestReadResponseAllocates(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: keep-alive\r\n\r\nhello from go\n" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	sr := strings.NewReader(resp)
	br := bufio.NewReaderSize(sr, 16<<10)
	allocs := testing.AllocsPerRun(100, func() {
		sr.Reset(resp)
		br.Reset(sr)
		for range 2 {
			if _, _, err := readResponse(br); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per response pair, want 0", allocs)
	}
}

// TestReadResponseBad rejects what is not an HTTP response.
func TestReadResponseBad(t *testing.T) {
	for _, resp := range []string{
		"",
		"SSH-2.0-OpenSSH\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	} {
		if _, _, err := readResponse(bufio.NewReader(strings.NewReader(resp))); err == nil {
			t.Errorf("%q: no error", resp)
		}
	}
}

// TestSchedule keeps the rate and the same arrivals for the same seed.
func TestSchedule(t *testing.T) {
	for _, arrivals := range []string{"poisson", "even"} {
		a, err := schedule(arrivals, 2000, 10*time.Second, 7)
		if err != nil {
			t.Fatal(err)
		}
		if n := float64(len(a)); math.Abs(n-20000) > 20000*0.03 {
			t.Errorf("%s: %v arrivals in 10 s at 2000/s", arrivals, n)
		}
		for i := 1; i < len(a); i++ {
			if a[i] < a[i-1] || a[i] >= 10*time.Second {
				t.Fatalf("%s: arrival %d at %v after %v", arrivals, i, a[i], a[i-1])
			}
		}
		b, _ := schedule(arrivals, 2000, 10*time.Second, 7)
		if len(a) != len(b) || a[len(a)/2] != b[len(b)/2] {
			t.Errorf("%s: the same seed gave another schedule", arrivals)
		}
	}
	if _, err := schedule("burst", 1, time.Second, 1); err == nil {
		t.Error("an unknown arrival process was taken")
	}
}

func TestQuantile(t *testing.T) {
	ds := make([]time.Duration, 1000)
	for i := range ds {
		ds[i] = time.Duration(1000-i) * time.Millisecond
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0.999, 999 * time.Millisecond}, {1, time.Second}} {
		if got := quantile(ds, tc.q); got != tc.want {
			t.Errorf("q%v = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantile(nil, 0.5); got != -1 {
		t.Errorf("empty: %v", got)
	}
}

// TestRun measures a real server: every request answered, none unsent,
// the rate kept, and a latency that is not the generator's.
func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "app.localhost" {
			http.Error(w, "wrong host", http.StatusMisdirectedRequest)
			return
		}
		fmt.Fprint(w, "hello\n")
	}))
	t.Cleanup(srv.Close)
	offs, err := schedule("poisson", 500, 2*time.Second, 1)
	if err != nil {
		t.Fatal(err)
	}
	req := []byte("GET / HTTP/1.1\r\nHost: app.localhost\r\n\r\n")
	cs := []*conn{newConn(strings.TrimPrefix(srv.URL, "http://"), req), newConn(strings.TrimPrefix(srv.URL, "http://"), req)}
	res := measure(cs, offs, 10*time.Second)
	if res.firstErr != nil {
		t.Fatal(res.firstErr)
	}
	s := summarize(res, offs, time.Second)
	if s.unsent != 0 || s.errors != 0 || s.ok < 400 || s.ok > 600 {
		t.Fatalf("%v", s)
	}
	// The schedule's rate is a ceiling; a slow machine may answer later.
	if s.achieved <= 0 || s.achieved > 600 {
		t.Fatalf("achieved %.0f req/s of 500", s.achieved)
	}
	// A run with a hard end before the schedule's: the rest is unsent
	// and counts as infinitely slow.
	res = measure(cs, offs, 1500*time.Millisecond)
	s = summarize(res, offs, time.Second)
	if s.unsent == 0 || ms(quantile(s.lat, 1)) != "inf" {
		t.Fatalf("cut short: %v", s)
	}
}
