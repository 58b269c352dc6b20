package router

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// upstream keeps idle keep-alive connections to dynos, by address, for
// the router's own forwarding loop (see serveFast). net/http's Transport
// hands each request to two goroutines of the connection over channels
// and watches idle ones with a blocked read; on a 2-core machine those
// hand-offs cost more than the proxying. Here the goroutine serving the
// client writes the request and reads the answer itself, and an idle
// connection the dyno closed is noticed by a non-blocking peek when it
// is taken after peekAfter (alive), not by a goroutine per connection.
type upstream struct {
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	idleTimeout time.Duration // idle connections older than this are closed
	maxIdle     int           // per address

	mu      sync.Mutex
	idle    map[string][]*upConn // by address, most recently used last
	janitor bool                 // a goroutine closes expired idle connections
}

// upConn is one connection to a dyno.
type upConn struct {
	net.Conn
	raw  syscall.RawConn // for alive; nil when the connection has none
	rio  *rawIO          // what br and bw go through, when raw is not nil
	br   *bufio.Reader
	bw   *bufio.Writer
	addr string
	used time.Time // when it was last put back idle
	// until is when a wait for the dyno gives up (see setUntil); armed
	// is the socket's own read deadline, never after until.
	until, armed time.Time
}

// peekAfter is how long a connection may sit idle before it is checked
// for a close by the dyno before reuse: apps close idle keep-alive
// connections after a second or more (gunicorn 2 s, Node 5 s), and under
// load connections are reused within microseconds, where the check would
// be a system call per request. A close within it is still met by
// sending a request without a body again on a new connection.
const peekAfter = 250 * time.Millisecond

// upstreamBuffer is the size of the buffers of a dyno connection: the
// response head must fit in the reader's (see readResponseHead).
const upstreamBuffer = 16 << 10

// get returns an idle connection to addr (reused true) or dials one;
// now is the time.
func (u *upstream) get(ctx context.Context, addr string, now time.Time) (uc *upConn, reused bool, err error) {
	for {
		u.mu.Lock()
		list := u.idle[addr]
		if len(list) == 0 {
			u.mu.Unlock()
			break
		}
		uc = list[len(list)-1]
		list[len(list)-1] = nil
		u.idle[addr] = list[:len(list)-1]
		u.mu.Unlock()
		idle := now.Sub(uc.used)
		if idle > peekAfter {
			uc.disarm()
		}
		if idle > u.idleTimeout || idle > peekAfter && !uc.alive() {
			uc.Close()
			continue
		}
		return uc, true, nil
	}
	uc, err = u.dialConn(ctx, addr)
	return uc, false, err
}

// dialConn opens a new connection to addr.
func (u *upstream) dialConn(ctx context.Context, addr string) (*upConn, error) {
	c, err := u.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	uc := &upConn{Conn: c, addr: addr}
	if sc, ok := c.(syscall.Conn); ok {
		uc.raw, _ = sc.SyscallConn()
	}
	sock := socketIO(c, uc.raw)
	uc.rio, _ = sock.(*rawIO)
	uc.br, uc.bw = bufio.NewReaderSize(deadlineReader{uc, sock}, upstreamBuffer), bufio.NewWriterSize(sock, 4096)
	return uc, nil
}

// sendRequest flushes what bw holds of a request, to be sent when the
// answer is read (see rawIO.sendWithRead): the caller reads the answer
// next, writing nothing before.
func (uc *upConn) sendRequest() error {
	if uc.rio == nil {
		return uc.bw.Flush()
	}
	uc.rio.sendWithRead()
	err := uc.bw.Flush()
	uc.rio.deferNext = false // when there was nothing to flush
	return err
}

// alive reports whether an idle connection is still open and quiet: a
// non-blocking peek finds nothing to read. A close by the dyno (EOF, a
// reset) or bytes it should never have sent make it unusable.
func (uc *upConn) alive() bool {
	if uc.br.Buffered() > 0 {
		return false
	}
	if uc.raw == nil {
		return true
	}
	open := false
	_ = uc.raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, errno := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK
		return true
	})
	return open
}

// put keeps uc for the next request to its dyno, up to maxIdle per dyno;
// now is the time.
func (u *upstream) put(uc *upConn, now time.Time) {
	uc.used = now
	u.mu.Lock()
	if u.idle == nil {
		u.idle = map[string][]*upConn{}
	}
	list := u.idle[uc.addr]
	if len(list) >= u.maxIdle {
		u.mu.Unlock()
		uc.Close()
		return
	}
	u.idle[uc.addr] = append(list, uc)
	if !u.janitor {
		u.janitor = true
		go u.sweep()
	}
	u.mu.Unlock()
}

// sweep closes connections idle past idleTimeout (those to dynos gone
// among them) until none is left idle.
func (u *upstream) sweep() {
	for {
		time.Sleep(u.idleTimeout / 4)
		now := time.Now()
		u.mu.Lock()
		for addr, list := range u.idle {
			keep := list[:0]
			for _, uc := range list {
				if now.Sub(uc.used) > u.idleTimeout {
					uc.Close()
				} else {
					keep = append(keep, uc)
				}
			}
			clear(list[len(keep):])
			if len(keep) == 0 {
				delete(u.idle, addr)
			} else {
				u.idle[addr] = keep
			}
		}
		if len(u.idle) == 0 {
			u.janitor = false
			u.mu.Unlock()
			return
		}
		u.mu.Unlock()
	}
}

// closeIdle closes every pooled connection.
func (u *upstream) closeIdle() {
	u.mu.Lock()
	for _, list := range u.idle {
		for _, uc := range list {
			uc.Close()
		}
	}
	u.idle = nil
	u.mu.Unlock()
}

// streaming starts, or moves on, the window within which the dyno must
// send more of its answer; the caller is about to wait for it.
func (uc *upConn) streaming(window time.Duration) {
	now := time.Now()
	uc.setUntil(now.Add(window), now)
}

// deadlineTick is the longest the socket's read deadline is set ahead.
const deadlineTick = clientCheck

// setUntil makes t the time a read from the dyno gives up with
// os.ErrDeadlineExceeded; now is the time.
//
// The trap: setting a connection's deadline changes a runtime timer, and
// a request sets two (the wait for the answer's head, then the stream's
// silence window), which on a connection serving requests back to back
// is a timer change per few microseconds of work. So the socket's own
// deadline (armed) is a tick of at most deadlineTick that is left alone
// while it falls before t and has not passed; when it passes first, the
// read wakes, finds t still ahead and arms the next tick (deadlineReader).
// A connection serving requests changes its timer about once a tick.
func (uc *upConn) setUntil(t, now time.Time) {
	uc.until = t
	if uc.armed.After(t) || !uc.armed.After(now) {
		uc.arm(now)
	}
}

// arm sets the socket's deadline to the next tick, or until if sooner.
func (uc *upConn) arm(now time.Time) {
	uc.armed = now.Add(deadlineTick)
	if uc.until.Before(uc.armed) {
		uc.armed = uc.until
	}
	_ = uc.Conn.SetReadDeadline(uc.armed)
}

// disarm clears both deadlines, for a peek at an idle connection (a
// passed deadline fails it before it looks).
func (uc *upConn) disarm() {
	if !uc.armed.IsZero() {
		uc.until, uc.armed = time.Time{}, time.Time{}
		_ = uc.Conn.SetReadDeadline(time.Time{})
	}
}

// deadlineReader reads a dyno connection within its until (see
// setUntil): a tick that passes before it is waited through.
type deadlineReader struct {
	uc *upConn
	r  io.Reader
}

func (d deadlineReader) Read(p []byte) (int, error) {
	for {
		n, err := d.r.Read(p)
		if n == 0 && err != nil && errors.Is(err, os.ErrDeadlineExceeded) && !d.uc.until.IsZero() {
			if now := time.Now(); now.Before(d.uc.until) {
				d.uc.arm(now)
				continue
			}
		}
		return n, err
	}
}
