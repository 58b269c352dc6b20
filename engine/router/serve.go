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
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
	rt.stopping.Store(true)
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
			if cc.idle.Load() && cc.closed.CompareAndSwap(false, true) {
				// From a goroutine: a connection served inside a wait
				// (serveWaiting) that took a request since it was seen
				// idle closes only when that request is answered.
				go cc.c.Close()
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
	sock *rawIO          // what br and bw use, when raw is not nil
	fwd  string          // the client's address, for X-Forwarded-For
	port string          // the port it connected to, X-Forwarded-Port

	wait     time.Duration // the time given for the next request head
	deadline time.Time     // the connection's read deadline
	begun    bool          // the wait for the next head has begun
	closed   atomic.Bool   // Shutdown closed it
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
		if cc.sock != nil {
			rt.emptyReads.Add(int64(cc.sock.empty))
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
	cc.sock, _ = sock.(*rawIO)
	cc.br = readers.Get().(*bufio.Reader)
	cc.br.Reset(sock)
	cc.bw = writers.Get().(*bufio.Writer)
	cc.bw.Reset(sock)
	cc.wait = rt.ReadHeaderTimeout
	for {
		if cc.sock != nil {
			switch rt.serveWaiting(cc) {
			case actClose:
				return
			case actHandOff:
				handed = rt.handOff(cc)
				return
			}
			// actOutside: this request the plain way.
		}
		cc.begin()
		cc.idle.Store(true)
		if _, err := cc.br.Peek(1); err != nil {
			return
		}
		switch rt.step(cc, false) {
		case actClose:
			return
		case actHandOff:
			handed = rt.handOff(cc)
			return
		}
	}
}

// What serving a client's request leads to.
type action int

const (
	actNext    action = iota // the next request
	actClose                 // close the connection
	actHandOff               // give the connection to net/http
	actWait                  // wait for more of the client (serveWaiting)
	actOutside               // serve this request outside the wait
)

// begin starts the wait for a request head: its read deadline is the
// time the client is given (the idle timeout after the first request).
// The deadline is moved only when it is more than a sixteenth of the
// wait off: setting it costs the runtime a timer change, which a busy
// connection would pay per request. It stays through the forwarding,
// where the client is read only for a request body (a peek for a closed
// connection ignores it).
func (cc *clientConn) begin() {
	if cc.begun {
		return
	}
	cc.begun = true
	if want := time.Now().Add(cc.wait); cc.deadline.Before(want.Add(-cc.wait/16)) || cc.deadline.After(want) {
		cc.deadline = want
		_ = cc.c.SetReadDeadline(cc.deadline)
	}
}

// serveWaiting serves the client's requests from inside one wait of the
// poller on its socket (its RawConn's Read), until one must be served
// outside it or the connection ends.
//
// The trap: the poller forgets the socket's readiness when a wait
// begins, so between requests a plain Read must try the socket before
// it waits, and as a client sends its next request only after it read
// the answer, that read nearly always fails with EAGAIN: a system call
// per request for nothing. Inside one wait, readiness that comes after
// the wait began is kept, so a read that emptied the socket (it returned
// less than it was given) need not be followed by one that would fail:
// the callback returns to wait, and whatever the client sent since then
// ends the wait at once. nginx does the same with its own poller.
//
// Requests whose body is not all read yet are served outside the wait:
// reading the client then may have to wait, which a callback cannot do.
// The connection's Close waits for the callback to return (Shutdown
// closes only idle connections, from goroutines of their own).
func (rt *Router) serveWaiting(cc *clientConn) action {
	r := cc.sock
	act := actClose
	err := cc.raw.Read(func(fd uintptr) bool {
		r.inWait, r.fd, r.drained = true, fd, false
		for {
			cc.begin()
			a := rt.step(cc, true)
			if a == actNext {
				continue
			}
			r.inWait = false
			if a == actWait {
				cc.idle.Store(cc.br.Buffered() == 0)
				return false
			}
			act = a
			return true
		}
	})
	if err != nil {
		return actClose
	}
	return act
}

// step serves the request at the head of the client's reader; inWait
// says it runs inside serveWaiting.
func (rt *Router) step(cc *clientConn, inWait bool) action {
	head, err := peekHead(cc.br)
	if errors.Is(err, errWouldBlock) {
		return actWait
	}
	cc.idle.Store(false)
	if err != nil && !errors.Is(err, errHeadTooLarge) || rt.shuttingDown() {
		return actClose
	}
	var rq fastRequest
	if err != nil || !rq.parse(head) {
		return actHandOff
	}
	if inWait && rq.length > 0 && int64(cc.br.Buffered()) < int64(len(head))+rq.length {
		return actOutside
	}
	host := normalizeHost(rq.host)
	app, all, maintenance, ok := rt.route(host)
	if !ok || maintenance {
		return actHandOff
	}
	up, addr, done := rt.pick(host, all)
	if addr == "" {
		return actHandOff
	}
	keep := rt.forward(cc, &rq, head, host, app, up, addr)
	done()
	if !keep {
		return actClose
	}
	cc.wait, cc.begun = rt.IdleTimeout, false
	return actNext
}

func (rt *Router) shuttingDown() bool { return rt.stopping.Load() }

// gone reports whether the client closed its connection (or reset it),
// peeking without blocking; what it sent next (pipelined) is not gone.
// pending is how much of the reader's buffer is the request under way.
func (cc *clientConn) gone(pending int) bool {
	if cc.br.Buffered() > pending || cc.raw == nil {
		return false
	}
	gone := false
	peek := func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = err == nil && n == 0 || err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
		return true
	}
	if cc.sock != nil && cc.sock.inWait {
		// Inside serveWaiting's callback, which holds the socket's
		// read lock: a RawConn Read would wait for it forever.
		peek(cc.sock.fd)
	} else {
		_ = cc.raw.Read(peek)
	}
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
