// Package netlimit bounds the connections a listener holds open, so that
// a flood on one of hako's ports (thousands of idle keep-alive
// connections to the router) cannot take the file descriptors the other
// ports need: the API and SSH keep answering while the router is full.
//
// A connection past the limit is accepted and closed at once, after an
// optional short answer (a 503 for HTTP): it holds a descriptor for the
// time of one write, never longer. Accepting it, rather than leaving it
// in the kernel's backlog, tells the client right away instead of
// letting it hang until its own timeout.
package netlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// refuseWriteTimeout bounds the answer written to a refused connection: a
// client that does not read it does not keep the descriptor.
const refuseWriteTimeout = 100 * time.Millisecond

// warnEvery spaces the log lines that say connections are refused, so
// that a flood does not flood the log too.
const warnEvery = time.Minute

// Listener is a net.Listener that holds at most Max connections open.
type Listener struct {
	net.Listener
	// Warn, when set, is told that connections were refused: at the first
	// refusal, then at most once a minute, with how many so far.
	Warn func(refused, limit int)

	*counts
	refusal []byte
}

// counts are a budget's figures, shared by the listeners that draw on it
// (see Share).
type counts struct {
	lastWarn atomic.Int64 // Unix nanoseconds of the last Warn call
	max      int64
	open     atomic.Int64
	refused  atomic.Int64

	// perHost, when positive, bounds the connections of one remote host
	// (see LimitPerHost); byHost counts them.
	mu      sync.Mutex
	perHost int64
	byHost  map[string]int64
}

// Listen wraps l so that at most limit connections are open at once; a
// connection past them is sent refusal (when not empty) and closed. A max
// below 1 means 1.
func Listen(l net.Listener, limit int, refusal []byte) *Listener {
	return &Listener{Listener: l, counts: &counts{max: int64(max(1, limit))}, refusal: refusal}
}

// Share wraps other in the same budget as l: one port served on two
// addresses (the router's HTTP and HTTPS) holds at most l's limit in all.
// Its refusals are told to l's Warn.
func (l *Listener) Share(other net.Listener) *Listener {
	return &Listener{Listener: other, counts: l.counts, refusal: l.refusal, Warn: l.Warn}
}

// Accept waits for the next connection within the limit, refusing the
// ones past it as they come.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			host, ok := l.takeHost(c)
			if ok {
				return &conn{Conn: c, l: l, host: host}, nil
			}
		}
		l.open.Add(-1)
		n := l.refused.Add(1)
		l.refuse(c)
		if now, last := time.Now().UnixNano(), l.lastWarn.Load(); l.Warn != nil && (last == 0 || now-last >= int64(warnEvery)) && l.lastWarn.CompareAndSwap(last, now) {
			l.Warn(int(n), int(l.max))
		}
	}
}

// LimitPerHost bounds the connections one remote host may hold open to
// n (below 1: no bound), within the limit and in every listener sharing
// it. Without it one client of a server listening on a network, opening
// connections it never uses (each held until its port's timeout), fills
// the whole budget and every other client is refused.
//
// A fixed share alone still lets a few hosts fill the budget together
// (four at a quarter each), so a host also holds at most as many
// connections as the budget has left free for everyone else: each new
// host can take at most half of what remains, and however many hosts
// take their part, places stay free for the next one until there are
// about as many hosts as places (the first connection of a host is
// always taken while there is room). Only counts kept under one lock are
// read, once per accepted connection: no request pays for it.
//
// A host is one IPv4 address, or one IPv6 /64: a single machine on IPv6
// usually holds a whole /64 and may pick any address in it. The
// server's own clients (127.0.0.1 and ::1: on one machine they are
// every client, hako's CLI, git and tests alike) are not bounded; other
// loopback addresses are, as they are only ever chosen on purpose.
func (l *Listener) LimitPerHost(n int) {
	l.mu.Lock()
	l.perHost = int64(n)
	l.mu.Unlock()
}

// HostOf names the host a remote address belongs to for LimitPerHost,
// "" for the server's own clients (and what is not an IP address). The
// SSH server bounds each host's connections still logging in by it too.
func HostOf(remote net.Addr) string {
	ap, err := netip.ParseAddrPort(remote.String())
	if err != nil {
		return ""
	}
	a := ap.Addr().Unmap().WithZone("")
	if a == netip.IPv6Loopback() || a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
		return ""
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// takeHost counts c against its remote host's bound and returns that
// host ("" when unbounded), or false past the bound. The caller has
// counted c in open already.
func (l *Listener) takeHost(c net.Conn) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perHost <= 0 {
		return "", true
	}
	host := HostOf(c.RemoteAddr())
	if host == "" {
		return "", true
	}
	held := l.byHost[host]
	if held >= l.perHost {
		return "", false
	}
	// With c, the host may hold no more than is left free for others.
	if free := l.max - l.open.Load(); held > 0 && held+1 > free {
		return "", false
	}
	if l.byHost == nil {
		l.byHost = map[string]int64{}
	}
	l.byHost[host]++
	return host, true
}

// releaseHost gives a connection of host back to its bound.
func (l *Listener) releaseHost(host string) {
	if host == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byHost[host]--; l.byHost[host] <= 0 {
		delete(l.byHost, host)
	}
}

// refuse answers a connection past the limit and closes it. It runs on
// the accepting goroutine: the write goes to an empty socket buffer, so it
// does not block, and the descriptor is released before the next accept.
func (l *Listener) refuse(c net.Conn) {
	if len(l.refusal) > 0 {
		_ = c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
		_, _ = c.Write(l.refusal)
	}
	_ = c.Close()
}

// Open returns how many accepted connections are open now.
func (l *Listener) Open() int { return int(l.open.Load()) }

// Refused returns how many connections were refused for the limit.
func (l *Listener) Refused() int { return int(l.refused.Load()) }

// Max returns the limit.
func (l *Listener) Max() int { return int(l.max) }

// conn gives its place back when closed, once however often Close is
// called (net/http and hijackers may both close it).
type conn struct {
	net.Conn
	l    *Listener
	host string // counted against the per-host bound, "" when not
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.releaseHost(c.host)
		c.l.open.Add(-1)
	})
	return err
}

// Unwrap returns the connection accepted, so that a server can reach its
// descriptor (a non-blocking peek for a client that went away).
func (c *conn) Unwrap() net.Conn { return c.Conn }
