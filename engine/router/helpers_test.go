package router

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"hako/engine"
)

// fakeBackend is a web dyno as the router sees it; it never changes after
// creation, so tests need no locking around it.
type fakeBackend struct {
	addr  string
	up    bool
	name  string
	state string
}

func (b *fakeBackend) Addr() string { return b.addr }
func (b *fakeBackend) Up() bool     { return b.up }
func (b *fakeBackend) Status() engine.DynoStatus {
	return engine.DynoStatus{Name: b.name, Type: "web", State: b.state}
}

type logEntry struct{ app, source, proc, line string }

// fakeSink collects log lines and wakes waiters on every new one.
type fakeSink struct {
	mu      sync.Mutex
	lines   []logEntry
	changed chan struct{}
}

func newSink() *fakeSink { return &fakeSink{changed: make(chan struct{})} }

func (s *fakeSink) Log(app, source, proc, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, logEntry{app, source, proc, line})
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor returns the first line of app containing every part, waiting
// for it to be logged (the handler logs after the client has its answer).
func (s *fakeSink) waitFor(t *testing.T, app string, parts ...string) logEntry {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		for _, e := range s.lines {
			if e.app == app && containsAll(e.line, parts) {
				s.mu.Unlock()
				return e
			}
		}
		ch := s.changed
		all := append([]logEntry(nil), s.lines...)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no log line for %s with %q; got %v", app, parts, all)
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// echo is what echoBackend answers: which dyno served and what it saw.
type echo struct {
	Dyno    string      `json:"dyno"`
	Host    string      `json:"host"`
	Headers http.Header `json:"headers"`
}

// echoBackend starts a dyno named name that answers with an echo.
func echoBackend(t *testing.T, name string) *fakeBackend {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Dyno: name, Host: r.Host, Headers: r.Header})
	}))
	t.Cleanup(srv.Close)
	return &fakeBackend{addr: srv.Listener.Addr().String(), up: true, name: name, state: engine.DynoUp}
}

// handlerBackend starts a dyno running h.
func handlerBackend(t *testing.T, name string, h http.HandlerFunc) *fakeBackend {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fakeBackend{addr: srv.Listener.Addr().String(), up: true, name: name, state: engine.DynoUp}
}

// refusedBackend is an up dyno whose port accepts no connection.
func refusedBackend(t *testing.T, name string) *fakeBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return &fakeBackend{addr: addr, up: true, name: name, state: engine.DynoUp}
}

type harness struct {
	router *Router
	sink   *fakeSink
	front  *front
	client *http.Client
}

// front is where the router under test listens.
type front struct {
	URL      string
	Listener net.Listener
}

// newHarness serves a Router over real TCP. configure runs before the
// first request, when timeouts can still be changed.
func newHarness(t *testing.T, domain string, configure func(*Router)) *harness {
	t.Helper()
	sink := newSink()
	rt := New(domain, sink)
	if configure != nil {
		configure(rt)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ln) }()
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rt.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return &harness{router: rt, sink: sink, front: &front{URL: "http://" + ln.Addr().String(), Listener: ln}, client: &http.Client{Transport: tr}}
}

// get sends GET path to the router with the given Host and headers and
// returns the response with its body read.
func (h *harness) get(t *testing.T, host, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", h.front.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func decodeEcho(t *testing.T, body string) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("backend answer %q: %v", body, err)
	}
	return e
}

func (h *harness) port() string {
	_, port, _ := net.SplitHostPort(h.front.Listener.Addr().String())
	return port
}
