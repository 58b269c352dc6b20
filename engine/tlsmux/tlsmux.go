// Package tlsmux serves plain TCP and TLS on one port, telling them apart
// by the first byte a client sends: a TLS connection opens with a
// handshake record (0x16), which no HTTP request starts with. So the API
// keeps answering `http://127.0.0.1:8081` for hako's own CLI while
// `HEROKU_HOST=https://127.0.0.1:8081` and git over HTTPS work on the
// same address.
//
// Waiting for that byte must not let a client that sends nothing hold up
// others (slowloris): each connection is sniffed in a goroutine of its
// own, under a deadline, and Accept hands out only the connections whose
// first byte came. The listener it wraps keeps counting every connection,
// sniffed or not, against its budget (engine/netlimit).
package tlsmux

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// recordHandshake is the content type of a TLS handshake record, the
// first byte of every TLS client's first message.
const recordHandshake = 0x16

// Listener is a net.Listener whose Accept returns a *tls.Conn (not yet
// handshaken: net/http does that, under its own timeout) for connections
// that start TLS and the plain connection otherwise.
type Listener struct {
	inner   net.Listener
	cfg     *tls.Config
	timeout time.Duration

	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	// sniffing are the connections whose first byte is awaited, closed
	// by Close rather than left to their deadline.
	mu       sync.Mutex
	sniffing map[net.Conn]struct{}
	// failed is closed when the inner listener fails for good, err
	// holding why.
	failed chan struct{}
	err    error
}

// Listen sniffs the connections of inner, serving TLS with cfg to those
// that start a handshake. A connection whose first byte does not arrive
// within timeout is closed.
func Listen(inner net.Listener, cfg *tls.Config, timeout time.Duration) *Listener {
	l := &Listener{inner: inner, cfg: cfg, timeout: timeout, conns: make(chan net.Conn), done: make(chan struct{}), failed: make(chan struct{}),
		sniffing: map[net.Conn]struct{}{}}
	go l.acceptLoop()
	return l
}

func (l *Listener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if isTemporary(err) {
				// Out of descriptors, say: wait, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-l.done:
					return
				}
			}
			l.err = err
			close(l.failed)
			return
		}
		delay = 0
		go l.sniff(c)
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// sniff reads c's first byte and hands c on, as TLS or plain.
func (l *Listener) sniff(c net.Conn) {
	l.mu.Lock()
	select {
	case <-l.done:
		l.mu.Unlock()
		_ = c.Close()
		return
	default:
	}
	l.sniffing[c] = struct{}{}
	l.mu.Unlock()
	var first [1]byte
	_ = c.SetReadDeadline(time.Now().Add(l.timeout))
	n, err := c.Read(first[:])
	l.mu.Lock()
	delete(l.sniffing, c)
	l.mu.Unlock()
	if n != 1 || err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	var out net.Conn = &peeked{Conn: c, first: first[0], pending: true}
	if first[0] == recordHandshake {
		out = tls.Server(out, l.cfg)
	}
	select {
	case l.conns <- out:
	case <-l.done:
		_ = c.Close()
	}
}

// Accept returns the next sniffed connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.failed:
		return nil, l.err
	}
}

// Close stops accepting and closes the connections being sniffed.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		l.mu.Lock()
		close(l.done)
		for c := range l.sniffing {
			_ = c.Close()
		}
		l.mu.Unlock()
		err = l.inner.Close()
	})
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// peeked gives back the byte sniff read before the rest of the stream.
type peeked struct {
	net.Conn
	first   byte
	pending bool
}

func (p *peeked) Read(b []byte) (int, error) {
	if p.pending && len(b) > 0 {
		p.pending = false
		b[0] = p.first
		return 1, nil
	}
	return p.Conn.Read(b)
}
