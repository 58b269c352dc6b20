package router

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"hako/engine"
)

type stateKey struct{}

// reqState is what the router knows about one request, shared by the
// handler, the proxy hooks and the log line.
type reqState struct {
	app, host    string
	method, path string
	protocol     string
	requestID    string
	fwd          string
	start        time.Time
	// end is when the forwarding loop wrote the answer whole; zero: the
	// clock is read when the line is logged.
	end time.Time

	// candidates are the up dynos in the order they are tried; cur is
	// the one in use. Only the serving goroutine touches them.
	candidates []engine.Backend
	cur        int
	addr       string // where the first candidate leased this request (see pick)
	tried      bool
	body       *guardedBody

	// connected is when a connection to the dyno was obtained, in Unix
	// nanoseconds, 0 before. Atomic because the transport reports it.
	connected atomic.Int64

	code, desc string
	status     int
	info       bool
}

func newState(app, host string, req *http.Request) *reqState {
	proto := "http"
	if req.TLS != nil {
		proto = "https"
	}
	return &reqState{
		app:       app,
		host:      host,
		method:    req.Method,
		path:      req.URL.RequestURI(),
		protocol:  proto,
		requestID: requestID(req.Header.Get("X-Request-Id")),
		fwd:       forwardedFor(req),
		start:     time.Now(),
	}
}

// context carries the state to the proxy hooks and reports when the
// transport got its connection, for the connect= field.
func (st *reqState) context(parent context.Context) context.Context {
	ctx := context.WithValue(parent, stateKey{}, st)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			st.connected.CompareAndSwap(0, time.Now().UnixNano())
		},
	})
}

func stateOf(req *http.Request) *reqState {
	st, _ := req.Context().Value(stateKey{}).(*reqState)
	return st
}

// fail records a router error for the log line.
func (st *reqState) fail(code, desc string, status int, info bool) {
	st.code, st.desc, st.status, st.info = code, desc, status, info
}

func (st *reqState) backend() engine.Backend {
	if st.cur < len(st.candidates) {
		return st.candidates[st.cur]
	}
	return nil
}

// rewrite points the outgoing request at the chosen dyno and sets the
// headers Heroku's router sets, keeping the Host the client asked for.
func (rt *Router) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = st.addr
	pr.Out.Host = pr.In.Host
	st.tried = true

	h := pr.Out.Header
	h.Set("X-Forwarded-For", st.fwd)
	h.Set("X-Forwarded-Proto", st.protocol)
	h.Set("X-Forwarded-Port", localPort(pr.In))
	h.Set("X-Request-Start", strconv.FormatInt(st.start.UnixMilli(), 10))
	h.Set("X-Request-Id", st.requestID)
	if via := strings.Join(pr.In.Header.Values("Via"), ", "); via != "" {
		h.Set("Via", via+", 1.1 vegur")
	} else {
		h.Set("Via", "1.1 vegur")
	}
	if pr.Out.Body != nil {
		st.body = &guardedBody{rc: pr.Out.Body}
		pr.Out.Body = st.body
	}
}

// forwardedFor is the X-Forwarded-For value sent to the dyno: any the
// client sent, then the client's address.
func forwardedFor(req *http.Request) string {
	ip := req.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if prior := req.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		return strings.Join(prior, ", ") + ", " + ip
	}
	return ip
}

// localPort is the port the client connected to, so that apps can build
// absolute URLs; it falls back to the Host's port, then the scheme's.
func localPort(req *http.Request) string {
	if a, ok := req.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	if _, port, err := net.SplitHostPort(req.Host); err == nil {
		return port
	}
	if req.TLS != nil {
		return "443"
	}
	return "80"
}

// copyBuffers are the buffers responses are copied through, reused
// across requests rather than allocated for each.
var copyBuffers = &bufferPool{pool: sync.Pool{New: func() any { return new([32 * 1024]byte) }}}

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte  { return p.pool.Get().(*[32 * 1024]byte)[:] }
func (p *bufferPool) Put(b []byte) { p.pool.Put((*[32 * 1024]byte)(b)) }

// guardedBody lets a request be sent again to another dyno after a
// refused connection: the transport closes bodies on failure, so Close is
// a no-op here (the server closes the real body), and read tells whether
// resending is still safe.
type guardedBody struct {
	rc   io.ReadCloser
	read atomic.Bool
}

func (b *guardedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.rc.Read(p)
}

func (b *guardedBody) Close() error { return nil }

// retryTransport tries the next up dyno when one refuses the connection,
// as Heroku's router does before giving up with H21.
type retryTransport struct {
	base http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateOf(req)
	for {
		resp, err := t.base.RoundTrip(req)
		if err == nil || st == nil || !errors.Is(err, syscall.ECONNREFUSED) ||
			st.cur+1 >= len(st.candidates) || (st.body != nil && st.body.read.Load()) {
			return resp, err
		}
		st.cur++
		req = req.Clone(req.Context())
		req.URL.Host = st.backend().Addr()
	}
}

// proxyError turns a failed proxy attempt into Heroku's error code and
// page. A client that went away gets no page, only the log line.
func (rt *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	code, desc, status, info := classify(req.Context(), err)
	if st := stateOf(req); st != nil {
		st.fail(code, desc, status, info)
	}
	if info {
		return
	}
	if cw, ok := w.(*countingWriter); ok {
		// The page is the router's, not the app's: keep bytes= at 0.
		cw.status = status
		w = cw.ResponseWriter
	}
	writeAppError(w)
}

// classify maps a transport error to a Heroku router code, description
// and status; info is true when the failure was the client's.
func classify(ctx context.Context, err error) (code, desc string, status int, info bool) {
	var op *net.OpError
	var ne net.Error
	dial := errors.As(err, &op) && op.Op == "dial"
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return "H27", "Client Request Interrupted", 499, true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "H21", "Backend connection refused", http.StatusServiceUnavailable, false
	case dial && op.Timeout():
		return "H19", "Backend connection timeout", http.StatusServiceUnavailable, false
	case dial:
		return "H21", "Backend connection refused", http.StatusServiceUnavailable, false
	case errors.As(err, &ne) && ne.Timeout():
		return "H12", "Request timeout", http.StatusServiceUnavailable, false
	default:
		return "H13", "Connection closed without response", http.StatusServiceUnavailable, false
	}
}
