package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

func TestRouting(t *testing.T) {
	h := newHarness(t, "", nil)
	h.router.SetBackends("myapp", []engine.Backend{echoBackend(t, "web.1")})
	h.router.SetBackends("empty", nil)
	h.router.SetBackends("crashed", []engine.Backend{
		&fakeBackend{addr: "127.0.0.1:1", name: "web.1", state: engine.DynoCrashed},
		&fakeBackend{addr: "127.0.0.1:1", name: "web.2", state: engine.DynoCrashed},
	})
	h.router.SetBackends("starting", []engine.Backend{
		&fakeBackend{addr: "127.0.0.1:1", name: "web.1", state: engine.DynoStarting},
		&fakeBackend{addr: "127.0.0.1:1", name: "web.2", state: engine.DynoCrashed},
	})
	h.router.SetBackends("gone", []engine.Backend{echoBackend(t, "web.1")})
	h.router.RemoveApp("gone")

	tests := []struct {
		name     string
		host     string
		status   int
		body     []string
		logApp   string
		logParts []string
	}{
		{name: "app host", host: "myapp.localhost", status: 200, body: []string{`"dyno":"web.1"`}},
		{name: "host with port", host: "myapp.localhost:5000", status: 200, body: []string{`"dyno":"web.1"`}},
		{name: "mixed case and trailing dot", host: "MyApp.LocalHost.", status: 200, body: []string{`"dyno":"web.1"`}},
		{name: "unknown app", host: "nope.localhost", status: 404, body: []string{"hako", "There's nothing here, yet."}},
		{name: "outside the domain", host: "myapp.example.com", status: 404, body: []string{"hako", "No such app"}},
		{name: "bare domain", host: "localhost", status: 404, body: []string{"hako"}},
		{name: "nested label", host: "a.myapp.localhost", status: 404, body: []string{"hako"}},
		{name: "removed app", host: "gone.localhost:80", status: 404, body: []string{"hako"}},
		{
			name: "no backends", host: "empty.localhost", status: 503, body: []string{"Application error"},
			logApp: "empty", logParts: []string{`at=error code=H14 desc="No web processes running"`, "dyno= connect= service= status=503 bytes=0"},
		},
		{
			name: "all crashed", host: "crashed.localhost", status: 503, body: []string{"Application error"},
			logApp: "crashed", logParts: []string{`at=error code=H10 desc="App crashed"`, "status=503"},
		},
		{
			name: "none up, not all crashed", host: "starting.localhost", status: 503, body: []string{"Application error"},
			logApp: "starting", logParts: []string{"code=H14", "status=503"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.get(t, tc.host, "/", nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tc.status, body)
			}
			for _, want := range tc.body {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q: %q", want, body)
				}
			}
			if tc.logApp != "" {
				e := h.sink.waitFor(t, tc.logApp, tc.logParts...)
				if e.source != "heroku" || e.proc != "router" {
					t.Errorf("logged as %s/%s, want heroku/router", e.source, e.proc)
				}
			}
		})
	}
}

func TestCustomDomain(t *testing.T) {
	h := newHarness(t, "Apps.Example.COM", nil)
	h.router.SetBackends("shop", []engine.Backend{echoBackend(t, "web.1")})
	for host, want := range map[string]int{
		"shop.apps.example.com":      200,
		"shop.apps.example.com:8080": 200,
		"shop.localhost":             404,
		"shop.example.com":           404,
	} {
		if resp, body := h.get(t, host, "/", nil); resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d (%q)", host, resp.StatusCode, want, body)
		}
	}
	if got := h.router.Domain(); got != "apps.example.com" {
		t.Errorf("Domain() = %q", got)
	}
}

func TestBackendSelection(t *testing.T) {
	tests := []struct {
		name     string
		backends func(t *testing.T) []engine.Backend
		want     map[string]bool // dynos that must serve
		never    string          // dyno that must not serve
	}{
		{
			name: "spread across two up dynos",
			backends: func(t *testing.T) []engine.Backend {
				return []engine.Backend{echoBackend(t, "web.1"), echoBackend(t, "web.2")}
			},
			want: map[string]bool{"web.1": true, "web.2": true},
		},
		{
			name: "down dyno skipped",
			backends: func(t *testing.T) []engine.Backend {
				down := echoBackend(t, "web.2")
				down.up, down.state = false, engine.DynoStarting
				return []engine.Backend{echoBackend(t, "web.1"), down}
			},
			want:  map[string]bool{"web.1": true},
			never: "web.2",
		},
		{
			name: "refusing dyno skipped for another",
			backends: func(t *testing.T) []engine.Backend {
				return []engine.Backend{refusedBackend(t, "web.2"), echoBackend(t, "web.1")}
			},
			want:  map[string]bool{"web.1": true},
			never: "web.2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "", nil)
			h.router.SetBackends("myapp", tc.backends(t))
			seen := map[string]int{}
			for i := 0; i < 50; i++ {
				resp, body := h.get(t, "myapp.localhost", "/", nil)
				if resp.StatusCode != 200 {
					t.Fatalf("request %d: status %d: %q", i, resp.StatusCode, body)
				}
				seen[decodeEcho(t, body).Dyno]++
			}
			for d := range tc.want {
				if seen[d] == 0 {
					t.Errorf("%s got no request: %v", d, seen)
				}
			}
			if tc.never != "" && seen[tc.never] != 0 {
				t.Errorf("%s got %d requests", tc.never, seen[tc.never])
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	h := newHarness(t, "", nil)
	h.router.SetBackends("myapp", []engine.Backend{echoBackend(t, "web.1")})
	uuidRe := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	goodID := "abcdefghij0123456789+/=-XYZ"

	tests := []struct {
		name    string
		hdr     map[string]string
		xff     string
		keepID  string // X-Request-Id the dyno must see; "" means a new UUID
		via     string
		hostHdr string
	}{
		{name: "plain", xff: "127.0.0.1", via: "1.1 vegur", hostHdr: "myapp.localhost"},
		{
			name: "appended XFF, kept id, prior Via",
			hdr:  map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Request-Id": goodID, "Via": "1.0 corp"},
			xff:  "1.2.3.4, 127.0.0.1", keepID: goodID, via: "1.0 corp, 1.1 vegur", hostHdr: "myapp.localhost",
		},
		{name: "short id replaced", hdr: map[string]string{"X-Request-Id": "short"}, xff: "127.0.0.1", via: "1.1 vegur", hostHdr: "myapp.localhost"},
		{name: "bad chars replaced", hdr: map[string]string{"X-Request-Id": "abcdefghij0123456789 ;x"}, xff: "127.0.0.1", via: "1.1 vegur", hostHdr: "myapp.localhost"},
		{name: "long id replaced", hdr: map[string]string{"X-Request-Id": strings.Repeat("a", 201)}, xff: "127.0.0.1", via: "1.1 vegur", hostHdr: "myapp.localhost:9999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().UnixMilli()
			resp, body := h.get(t, tc.hostHdr, "/x?y=1", tc.hdr)
			after := time.Now().UnixMilli()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %q", resp.StatusCode, body)
			}
			e := decodeEcho(t, body)
			got := e.Headers
			if e.Host != tc.hostHdr {
				t.Errorf("Host %q, want %q", e.Host, tc.hostHdr)
			}
			if v := got.Get("X-Forwarded-For"); v != tc.xff {
				t.Errorf("X-Forwarded-For %q, want %q", v, tc.xff)
			}
			if v := got.Get("X-Forwarded-Proto"); v != "http" {
				t.Errorf("X-Forwarded-Proto %q", v)
			}
			if v := got.Get("X-Forwarded-Port"); v != h.port() {
				t.Errorf("X-Forwarded-Port %q, want %q", v, h.port())
			}
			if v := got.Get("Via"); v != tc.via {
				t.Errorf("Via %q, want %q", v, tc.via)
			}
			start, err := strconv.ParseInt(got.Get("X-Request-Start"), 10, 64)
			if err != nil || start < before || start > after {
				t.Errorf("X-Request-Start %q not in [%d, %d]", got.Get("X-Request-Start"), before, after)
			}
			id := got.Get("X-Request-Id")
			if tc.keepID != "" && id != tc.keepID {
				t.Errorf("X-Request-Id %q, want %q", id, tc.keepID)
			}
			if tc.keepID == "" && !uuidRe.MatchString(id) {
				t.Errorf("X-Request-Id %q is not a UUID v4", id)
			}
			h.sink.waitFor(t, "myapp", "request_id="+id, `path="/x?y=1"`)
		})
	}
}

func TestLogLine(t *testing.T) {
	h := newHarness(t, "", nil)
	h.router.SetBackends("myapp", []engine.Backend{handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello, world\n")
	})})
	resp, _ := h.get(t, "myapp.localhost:1234", "/", map[string]string{"X-Forwarded-For": "1.2.3.4"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	e := h.sink.waitFor(t, "myapp", "status=200")
	re := regexp.MustCompile(`^at=info method=GET path="/" host=myapp\.localhost request_id=[0-9a-f-]{36} fwd="1\.2\.3\.4, 127\.0\.0\.1" dyno=web\.1 connect=\d+ms service=\d+ms status=200 bytes=13 protocol=http$`)
	if !re.MatchString(e.line) {
		t.Errorf("log line %q does not match %s", e.line, re)
	}
}

func TestBackendErrors(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*Router)
		backends  func(t *testing.T) []engine.Backend
		logParts  []string
	}{
		{
			name:     "refused",
			backends: func(t *testing.T) []engine.Backend { return []engine.Backend{refusedBackend(t, "web.1")} },
			logParts: []string{`at=error code=H21 desc="Backend connection refused"`, "dyno=web.1 connect= service= status=503 bytes=0"},
		},
		{
			name: "all refused",
			backends: func(t *testing.T) []engine.Backend {
				return []engine.Backend{refusedBackend(t, "web.1"), refusedBackend(t, "web.2")}
			},
			logParts: []string{"at=error code=H21", "status=503"},
		},
		{
			name:      "response timeout",
			configure: func(r *Router) { r.ResponseTimeout = 100 * time.Millisecond },
			backends: func(t *testing.T) []engine.Backend {
				release := make(chan struct{})
				b := handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				})
				t.Cleanup(func() { close(release) }) // runs before the backend closes
				return []engine.Backend{b}
			},
			logParts: []string{`at=error code=H12 desc="Request timeout"`, "dyno=web.1", "status=503 bytes=0"},
		},
		{
			name: "closed without response",
			backends: func(t *testing.T) []engine.Backend {
				return []engine.Backend{handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						conn.Close()
					}
				})}
			},
			logParts: []string{`at=error code=H13 desc="Connection closed without response"`, "status=503"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "", tc.configure)
			h.router.SetBackends("myapp", tc.backends(t))
			resp, body := h.get(t, "myapp.localhost", "/", nil)
			if resp.StatusCode != 503 || !strings.Contains(body, "Application error") {
				t.Fatalf("status %d, body %q; want 503 application error", resp.StatusCode, body)
			}
			h.sink.waitFor(t, "myapp", tc.logParts...)
		})
	}
}

func TestClientGone(t *testing.T) {
	h := newHarness(t, "", nil)
	arrived := make(chan struct{})
	h.router.SetBackends("myapp", []engine.Backend{handlerBackend(t, "web.1", func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	})})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", h.front.URL+"/", nil)
	req.Host = "myapp.localhost"
	errc := make(chan error, 1)
	go func() {
		resp, err := h.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; err == nil {
		t.Error("request succeeded after cancel")
	}
	h.sink.waitFor(t, "myapp", `at=info code=H27 desc="Client Request Interrupted"`, "dyno=web.1", "status=499")
}

// timeoutErr is a net.Error that timed out, as dialers return.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		code string
		st   int
	}{
		{"refused", bg, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "H21", 503},
		{"connect timeout", bg, &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, "H19", 503},
		{"response timeout", bg, fmt.Errorf("wrapped: %w", timeoutErr{}), "H12", 503},
		{"closed", bg, errors.New("EOF"), "H13", 503},
		{"client gone", canceled, context.Canceled, "H27", 499},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, st, info := classify(tc.ctx, tc.err)
			if code != tc.code || st != tc.st || info != (tc.code == "H27") {
				t.Errorf("got %s %d info=%v, want %s %d", code, st, info, tc.code, tc.st)
			}
		})
	}
}

func TestNilLogSink(t *testing.T) {
	rt := New("", nil)
	rt.SetBackends("empty", nil)
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, httptest.NewRequest("GET", "http://empty.localhost/", nil))
	if rec.Code != 503 {
		t.Errorf("status %d, want 503", rec.Code)
	}
}

// TestSetDomains checks that custom hostnames route to their app, move
// with SetDomains and go with RemoveApp.
func TestSetDomains(t *testing.T) {
	h := newHarness(t, "", nil)
	h.router.SetBackends("shop", []engine.Backend{echoBackend(t, "web.1")})
	h.router.SetDomains("shop", []string{"www.shop.test", "Shop.Test."})
	for host, want := range map[string]int{"www.shop.test": 200, "shop.test:8080": 200, "other.test": 404} {
		if resp, body := h.get(t, host, "/", nil); resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d (%q)", host, resp.StatusCode, want, body)
		}
	}
	h.router.SetDomains("shop", []string{"shop.test"})
	if resp, _ := h.get(t, "www.shop.test", "/", nil); resp.StatusCode != 404 {
		t.Errorf("a removed domain still routes: %d", resp.StatusCode)
	}
	h.router.RemoveApp("shop")
	if resp, _ := h.get(t, "shop.test", "/", nil); resp.StatusCode != 404 {
		t.Errorf("a removed app's domain still routes: %d", resp.StatusCode)
	}
}

// TestMaintenance checks Heroku's H80: an app in maintenance mode answers
// with the maintenance page and its dynos see nothing.
func TestMaintenance(t *testing.T) {
	h := newHarness(t, "", nil)
	h.router.SetBackends("shop", []engine.Backend{echoBackend(t, "web.1")})
	h.router.SetMaintenance("shop", true)
	resp, body := h.get(t, "shop.localhost", "/", nil)
	if resp.StatusCode != 503 || !strings.Contains(body, "Offline for Maintenance") {
		t.Errorf("in maintenance: %d %q", resp.StatusCode, body)
	}
	h.sink.waitFor(t, "shop", "at=error code=H80", `desc="Maintenance mode"`, "status=503")
	h.router.SetMaintenance("shop", false)
	if resp, _ := h.get(t, "shop.localhost", "/", nil); resp.StatusCode != 200 {
		t.Errorf("after maintenance: %d", resp.StatusCode)
	}
}
