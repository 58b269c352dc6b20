package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"hako/engine"
)

// Serve answers HTTP/1.1 on ln until Shutdown, with a forwarding loop of
// the router's own for the plain requests that are nearly all of a busy
// app's traffic: a request head read in place, its lines forwarded to a
// pooled keep-alive connection to the dyno, the answer's head and body
// copied back as they come, all from the goroutine serving the client.
// Everything else (HTTPS, large heads or bodies, uploads of unknown length,
// Expect, protocol upgrades such as WebSocket, HTTP/1.0 clients, unknown
// hosts, maintenance, apps without a dyno up) is served by net/http with
// ServeHTTP: the connection is handed over, with what was read of it,
// and stays with net/http until it closes. net/http's server and
// Transport cost this path twice what the proxying itself does (a
// goroutine and a channel hand-off for each read and write); the loop is
// what lets the router keep up with nginx.
//
// Serve returns http.ErrServerClosed after Shutdown.
func (rt *Router) Serve(ln net.Listener) error {
	rt.once.Do(rt.init)
	rt.srvMu.Lock()
	if rt.closing {
		rt.srvMu.Unlock()
		return http.ErrServerClosed
	}
	if rt.conns == nil {
		rt.conns = map[*clientConn]struct{}{}
	}
	rt.listeners = append(rt.listeners, ln)
	h := rt.handoffFor(ln.Addr())
	rt.srvMu.Unlock()
	go func() { _ = rt.slow.Serve(h) }()

	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			rt.srvMu.Lock()
			closing := rt.closing
			rt.srvMu.Unlock()
			if closing {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors: wait, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		cc := &clientConn{c: c, h: h}
		rt.srvMu.Lock()
		if rt.closing {
			rt.srvMu.Unlock()
			c.Close()
			return http.ErrServerClosed
		}
		rt.conns[cc] = struct{}{}
		rt.srvMu.Unlock()
		go rt.serveConn(cc)
	}
}

// Shutdown stops serving: the listeners close, idle connections close,
// and it waits for the requests under way until ctx ends.
func (rt *Router) Shutdown(ctx context.Context) error {
	rt.once.Do(rt.init)
	rt.srvMu.Lock()
	rt.closing = true
	for _, ln := range rt.listeners {
		_ = ln.Close()
	}
	for _, h := range rt.handoffs {
		h.Close()
	}
	rt.srvMu.Unlock()
	slow := make(chan error, 1)
	go func() { slow <- rt.slow.Shutdown(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		rt.srvMu.Lock()
		for cc := range rt.conns {
			if cc.idle.Load() {
				cc.c.Close()
			}
		}
		left := len(rt.conns)
		rt.srvMu.Unlock()
		if left == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	rt.up.closeIdle()
	rt.transport.CloseIdleConnections()
	return <-slow
}

// clientConn is one client connection served by the forwarding loop.
type clientConn struct {
	c    net.Conn
	h    *handoff
	br   *bufio.Reader
	bw   *bufio.Writer
	idle atomic.Bool // waiting for a request: Shutdown may close it

	raw  syscall.RawConn // for gone; nil when the connection has none
	fwd  string          // the client's address, for X-Forwarded-For
	port string          // the port it connected to, X-Forwarded-Port
	last time.Time       // when the last answer was written whole, if it was
	// cands holds the request's candidate dynos (see pick), most apps'
	// all, without an allocation per request.
	cands [8]engine.Backend
}

// Buffers of client connections: a request head must fit in the
// reader's, or net/http serves the connection.
const clientBuffer = 4 << 10

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, clientBuffer) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, clientBuffer) }}
)

// serveConn serves one client connection's requests in turn.
func (rt *Router) serveConn(cc *clientConn) {
	handed := false
	defer func() {
		if !handed {
			cc.c.Close()
		}
		if cc.br != nil {
			cc.br.Reset(nil)
			readers.Put(cc.br)
		}
		if cc.bw != nil {
			cc.bw.Reset(nil)
			writers.Put(cc.bw)
		}
		rt.srvMu.Lock()
		delete(rt.conns, cc)
		rt.srvMu.Unlock()
	}()
	if _, ok := cc.c.(*tls.Conn); ok {
		// HTTPS (and HTTP/2 when negotiated) is net/http's.
		handed = cc.h.give(cc.c)
		return
	}
	cc.fwd = hostOnly(cc.c.RemoteAddr())
	cc.port = portOnly(cc.c.LocalAddr())
	if sc, ok := cc.c.(syscall.Conn); ok {
		cc.raw, _ = sc.SyscallConn()
	} else if u, ok := cc.c.(interface{ Unwrap() net.Conn }); ok {
		if sc, ok := u.Unwrap().(syscall.Conn); ok {
			cc.raw, _ = sc.SyscallConn()
		}
	}
	sock := socketIO(cc.c, cc.raw)
	cc.br = readers.Get().(*bufio.Reader)
	cc.br.Reset(sock)
	cc.bw = writers.Get().(*bufio.Writer)
	cc.bw.Reset(sock)
	wait := rt.ReadHeaderTimeout
	var deadline time.Time // the client connection's read deadline
	served := false        // a request was forwarded on this connection
	for {
		cc.idle.Store(true)
		// The deadline for the next request is moved only when it is more
		// than a sixteenth of wait off: setting it costs the runtime a
		// timer change, which a busy connection would pay per request.
		// It stays through the forwarding, where the client is read only
		// for a request body (a peek for a closed connection ignores it).
		now := cc.last
		if now.IsZero() {
			now = time.Now()
		}
		cc.last = time.Time{}
		if want := now.Add(wait); deadline.Before(want.Add(-wait/16)) || deadline.After(want) {
			deadline = want
			_ = cc.c.SetReadDeadline(deadline)
		}
		if served && cc.br.Buffered() == 0 {
			// Between requests, the goroutines the poller readied with
			// this one run first (Gosched returns at once when there are
			// none): under load their answers go out together, as
			// nginx's loop writes all it found ready before it waits
			// again, and by the time this one reads, the client's next
			// request has more often come, saving a read that finds
			// nothing and a trip through the poller.
			runtime.Gosched()
		}
		if _, err := cc.br.Peek(1); err != nil {
			return
		}
		cc.idle.Store(false)
		if rt.shuttingDown() {
			return
		}
		head, err := peekHead(cc.br)
		if err != nil && !errors.Is(err, errHeadTooLarge) {
			return
		}
		var rq fastRequest
		if err != nil || !rq.parse(head) {
			handed = rt.handOff(cc)
			return
		}
		host := normalizeHost(rq.host)
		app, all, maintenance, ok := rt.route(host)
		if !ok || maintenance {
			handed = rt.handOff(cc)
			return
		}
		up, addr, done := rt.pick(host, all, cc.cands[:0])
		if addr == "" {
			handed = rt.handOff(cc)
			return
		}
		keep := rt.forward(cc, &rq, head, host, app, up, addr)
		served = true
		done()
		clear(cc.cands[:]) // no dyno kept past its request
		if !keep {
			return
		}
		wait = rt.IdleTimeout
	}
}

func (rt *Router) shuttingDown() bool {
	rt.srvMu.Lock()
	defer rt.srvMu.Unlock()
	return rt.closing
}

// gone reports whether the client closed its connection (or reset it),
// peeking without blocking; what it sent next (pipelined) is not gone.
// pending is how much of the reader's buffer is the request under way.
func (cc *clientConn) gone(pending int) bool {
	if cc.br.Buffered() > pending || cc.raw == nil {
		return false
	}
	gone := false
	_ = cc.raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = err == nil && n == 0 || err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
		return true
	})
	return gone
}

// handOff gives the connection to net/http with what was read of it;
// false when net/http no longer takes connections.
func (rt *Router) handOff(cc *clientConn) bool {
	_ = cc.c.SetReadDeadline(time.Time{})
	var rest []byte
	if n := cc.br.Buffered(); n > 0 {
		b, _ := cc.br.Peek(n)
		rest = append([]byte(nil), b...)
	}
	return cc.h.give(&replayConn{Conn: cc.c, rest: rest})
}

// replayConn reads what was read of a connection before handing it over,
// then the connection.
type replayConn struct {
	net.Conn
	rest []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(p, c.rest)
		c.rest = c.rest[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// handoff is the listener net/http serves: the connections the loop
// hands over.
type handoff struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// handoffFor returns the hand-over listener for addr, made once.
func (rt *Router) handoffFor(addr net.Addr) *handoff {
	h := &handoff{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
	rt.handoffs = append(rt.handoffs, h)
	return h
}

func (h *handoff) give(c net.Conn) bool {
	select {
	case h.conns <- c:
		return true
	case <-h.done:
		return false
	}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

// slowServer is the net/http server for what the loop hands over.
func (rt *Router) slowServer() *http.Server {
	return &http.Server{
		Handler:           rt,
		ReadHeaderTimeout: rt.ReadHeaderTimeout,
		IdleTimeout:       rt.IdleTimeout,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
}

func hostOnly(a net.Addr) string {
	if a == nil {
		return ""
	}
	s := a.String()
	if host, _, err := net.SplitHostPort(s); err == nil {
		return host
	}
	return s
}

func portOnly(a net.Addr) string {
	if a == nil {
		return ""
	}
	if _, port, err := net.SplitHostPort(a.String()); err == nil {
		return port
	}
	return ""
}
