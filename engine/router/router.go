// Package router is hako's HTTP front door. It maps hosts of the form
// APP.DOMAIN to the app's web dynos and proxies requests to them the way
// Heroku's router does, so that apps see the same forwarded headers, the
// same error pages and codes (H10, H12, ...) and the same router log lines
// they would see on Heroku.
package router

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"hako/engine"
)

// Default timeouts, the values Heroku's router uses.
const (
	DefaultConnectTimeout  = 5 * time.Second
	DefaultResponseTimeout = 30 * time.Second
	// Heroku's router closes a connection whose request head takes
	// longer than 30 s, and a kept-alive one idle for 90 s.
	DefaultReadHeaderTimeout = 30 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
	// Once a dyno has begun its answer, Heroku's router lets it stay
	// silent for at most 55 s at a time (H15, Idle connection), and a
	// WebSocket for as long with nothing sent either way.
	DefaultStreamIdleTimeout = 55 * time.Second
)

// DefaultDomain is used when New is given an empty domain, so that apps
// are reachable as APP.localhost on a developer machine without DNS setup.
const DefaultDomain = "localhost"

// Router routes requests by Host to the web dynos the supervisor reports.
// It implements engine.RouteTable, so the engine keeps it up to date
// without the router ever reading the store, and http.Handler, so it can
// be served by any http.Server. It is safe for concurrent use.
type Router struct {
	// ConnectTimeout bounds connecting to a dyno; past it the request
	// fails with H19. Default DefaultConnectTimeout (5s). It is read when
	// the first request is served; later changes have no effect.
	ConnectTimeout time.Duration
	// ResponseTimeout bounds how long a dyno may take to send its
	// response headers once the request has been sent; past it the
	// request fails with H12. Default DefaultResponseTimeout (30s). It is
	// read when the first request is served; later changes have no effect.
	ResponseTimeout time.Duration
	// ReadHeaderTimeout bounds how long Serve waits for a connection's
	// first request head; IdleTimeout how long a kept-alive connection
	// may wait for its next request. Defaults DefaultReadHeaderTimeout
	// and DefaultIdleTimeout; read when the first request is served.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// StreamIdleTimeout bounds how long a dyno that has begun its answer
	// may send nothing before the router closes both connections (H15),
	// and how long a WebSocket may carry nothing either way. Default
	// DefaultStreamIdleTimeout; read when the first request is served.
	StreamIdleTimeout time.Duration
	// Dashboard, when set, serves the host hako.DOMAIN (which no app may
	// be named: engine.DashboardName). It is looked for only once no
	// app matched, off the forwarding loop's path. Set it before Serve.
	Dashboard http.Handler

	domain string
	logs   engine.LogSink

	mu          sync.RWMutex
	apps        map[string][]engine.Backend
	hosts       map[string]string // custom domain -> app
	maintenance map[string]bool

	once      sync.Once
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	up        *upstream    // the forwarding loop's dyno connections
	slow      *http.Server // what the loop hands over (see Serve)

	srvMu     sync.Mutex
	closing   bool
	listeners []net.Listener
	handoffs  []*handoff
	conns     map[*clientConn]struct{}
}

var (
	_ engine.RouteTable = (*Router)(nil)
	_ http.Handler      = (*Router)(nil)
)

// New returns a Router serving APP.domain for every app it is told about.
// An empty domain means DefaultDomain. logs receives one line per routed
// request and may be nil when nobody reads them.
func New(domain string, logs engine.LogSink) *Router {
	domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	if domain == "" {
		domain = DefaultDomain
	}
	return &Router{
		ConnectTimeout:  DefaultConnectTimeout,
		ResponseTimeout: DefaultResponseTimeout,
		domain:          domain,
		logs:            logs,
		apps:            map[string][]engine.Backend{},
		hosts:           map[string]string{},
		maintenance:     map[string]bool{},
	}
}

// SetMaintenance puts app in maintenance mode (on) or takes it out: in
// it, every request gets Heroku's H80 page and no dyno sees traffic.
func (rt *Router) SetMaintenance(app string, on bool) {
	rt.mu.Lock()
	rt.maintenance[strings.ToLower(app)] = on
	rt.mu.Unlock()
}

// Domain returns the domain apps are served under, so that callers can
// show users their app's URL.
func (rt *Router) Domain() string { return rt.domain }

// SetBackends replaces the web dynos of app. An empty list keeps the app
// known, so that its requests get Heroku's "no web processes" error
// rather than the unknown-app page.
func (rt *Router) SetBackends(app string, backends []engine.Backend) {
	cp := make([]engine.Backend, 0, len(backends))
	for _, b := range backends {
		if b != nil {
			cp = append(cp, b)
		}
	}
	rt.mu.Lock()
	rt.apps[strings.ToLower(app)] = cp
	rt.mu.Unlock()
}

// RemoveApp forgets app; its hosts get the unknown-app page again.
func (rt *Router) RemoveApp(app string) {
	app = strings.ToLower(app)
	rt.mu.Lock()
	delete(rt.apps, app)
	delete(rt.maintenance, app)
	for h, a := range rt.hosts {
		if a == app {
			delete(rt.hosts, h)
		}
	}
	rt.mu.Unlock()
}

// SetDomains replaces the custom domains that route to app, besides
// APP.domain. The engine keeps them unique across apps.
func (rt *Router) SetDomains(app string, hosts []string) {
	app = strings.ToLower(app)
	rt.mu.Lock()
	for h, a := range rt.hosts {
		if a == app {
			delete(rt.hosts, h)
		}
	}
	for _, h := range hosts {
		rt.hosts[normalizeHost(h)] = app
	}
	rt.mu.Unlock()
}

// CloseIdleConnections closes pooled connections to dynos, for shutdown.
func (rt *Router) CloseIdleConnections() {
	rt.once.Do(rt.init)
	rt.transport.CloseIdleConnections()
	rt.up.closeIdle()
}

// route looks a request's host (already lowercased, without port) up in
// one read of the table: the app it names (a custom domain's, or APP of
// APP.domain), its dynos and whether it is in maintenance; ok is false
// for a host no known app answers to. The backends slice is never
// modified after SetBackends stored it, so it is read after the lock.
func (rt *Router) route(host string) (app string, backends []engine.Backend, maintenance, ok bool) {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	app, custom := rt.hosts[host]
	if !custom {
		name, under := strings.CutSuffix(host, "."+rt.domain)
		if !under || !isLabel(name) {
			return "", nil, false, false
		}
		app = name
	}
	backends, ok = rt.apps[app]
	return app, backends, rt.maintenance[app], ok
}

// isLabel reports whether s is one DNS label; anything else can never be
// an app name, and refusing it early keeps log lines clean.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// normalizeHost strips the port and a trailing dot and lowercases, since
// browsers and tools differ on all three.
func normalizeHost(h string) string {
	// (SplitHostPort allocates its error for a host without a port.)
	if strings.IndexByte(h, ':') >= 0 {
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// init builds the shared transport and proxy from the timeout fields.
func (rt *Router) init() {
	connect := rt.ConnectTimeout
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	response := rt.ResponseTimeout
	if response <= 0 {
		response = DefaultResponseTimeout
	}
	rt.ResponseTimeout = response
	if rt.ReadHeaderTimeout <= 0 {
		rt.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if rt.IdleTimeout <= 0 {
		rt.IdleTimeout = DefaultIdleTimeout
	}
	if rt.StreamIdleTimeout <= 0 {
		rt.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	dial := (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	rt.up = &upstream{
		dial: dial,
		// As many idle connections to a dyno as clients may keep busy.
		maxIdle:     256,
		idleTimeout: 90 * time.Second,
	}
	rt.slow = rt.slowServer()
	rt.transport = &http.Transport{
		// Dynos are local; an environment proxy must never be used.
		Proxy: nil,
		// What net/http forwards (HTTPS, HTTP/2, WebSockets) gets the
		// same silence window as the loop's answers (see idleConn).
		DialContext: idleDial(dial, rt.StreamIdleTimeout),
		// Enough idle connections for every client connection the router
		// holds to keep one to a busy dyno: fewer, and each request past
		// them dials anew and leaves a socket in TIME_WAIT.
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: response,
		ExpectContinueTimeout: time.Second,
		// Pass encodings through untouched; the client negotiates them.
		DisableCompression: true,
	}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:    rt.rewrite,
		Transport:  &retryTransport{base: rt.transport},
		BufferPool: copyBuffers,
		// An upgrade's 101 is written on the hijacked connection, past
		// countingWriter: note it for the log line.
		ModifyResponse: func(resp *http.Response) error {
			if st := stateOf(resp.Request); st != nil && resp.StatusCode == http.StatusSwitchingProtocols {
				st.status = resp.StatusCode
			}
			return nil
		},
		// countingWriter flushes each write to the client (streaming).
		// Not FlushInterval -1: it flushes the headers from a timer's
		// goroutine on every request, which costs more than the rest.
		FlushInterval: 0,
		ErrorHandler:  rt.proxyError,
		// Failures are reported in the router log line instead.
		ErrorLog: log.New(io.Discard, "", 0),
	}
}

// ServeHTTP routes one request: unknown hosts get the unknown-app page,
// known apps without an up dyno get Heroku's application error, and the
// rest are proxied to a random up dyno.
func (rt *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rt.once.Do(rt.init)
	host := normalizeHost(req.Host)
	app, all, inMaintenance, ok := rt.route(host)
	if !ok {
		if rt.Dashboard != nil && host == engine.DashboardName+"."+rt.domain {
			rt.Dashboard.ServeHTTP(w, req)
			return
		}
		// No app means no app log to write to.
		writeNotFound(w)
		return
	}

	st := newState(app, host, req)
	cw := &countingWriter{ResponseWriter: w}
	defer func() {
		p := recover()
		if p != nil && st.code == "" && req.Context().Err() != nil {
			st.fail("H27", "Client Request Interrupted", 499, true)
		}
		rt.logRequest(st, cw)
		if p != nil {
			panic(p)
		}
	}()

	if inMaintenance {
		st.fail("H80", "Maintenance mode", http.StatusServiceUnavailable, false)
		writePage(w, http.StatusServiceUnavailable, maintenancePage)
		return
	}
	up, addr, done := rt.pick(host, all, nil)
	if addr == "" {
		if allCrashed(all) {
			st.fail("H10", "App crashed", http.StatusServiceUnavailable, false)
		} else {
			st.fail("H14", "No web processes running", http.StatusServiceUnavailable, false)
		}
		writeAppError(w)
		return
	}
	defer done()
	st.candidates, st.addr = up, addr
	rt.proxy.ServeHTTP(cw, req.WithContext(st.context(req.Context())))
}

// allCrashed reports whether there are dynos and every one has crashed,
// which Heroku reports as H10 rather than H14.
func allCrashed(all []engine.Backend) bool {
	if len(all) == 0 {
		return false
	}
	for _, b := range all {
		if b.Status().State != engine.DynoCrashed {
			return false
		}
	}
	return true
}
