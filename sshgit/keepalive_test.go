package sshgit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// probedConn is a connection whose client answers keepalives after delay,
// or never (delay < 0) until the connection is closed.
type probedConn struct {
	gossh.Conn
	delay  time.Duration
	probes atomic.Int32
	once   sync.Once
	closed chan struct{}
}

func (c *probedConn) SendRequest(name string, wantReply bool, _ []byte) (bool, []byte, error) {
	c.probes.Add(1)
	if name != "keepalive@openssh.com" || !wantReply {
		panic("not a keepalive: " + name)
	}
	if c.delay < 0 {
		<-c.closed
		return false, nil, gossh.ErrNoAuth // any error: the connection is gone
	}
	select {
	case <-time.After(c.delay):
		return false, nil, nil // OpenSSH answers with a failure
	case <-c.closed:
		return false, nil, gossh.ErrNoAuth
	}
}

func (c *probedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// TestKeepalive: a client that answers, even slowly, keeps its
// connection; one that never answers is cut off after KeepaliveCount
// intervals without an answer, and not before.
func TestKeepalive(t *testing.T) {
	const interval = 50 * time.Millisecond
	for _, tc := range []struct {
		name  string
		delay time.Duration
		cut   bool
	}{
		{"Answers", 0, false},
		{"AnswersSlowly", interval * 3 / 2, false},
		{"Silent", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &probedConn{delay: tc.delay, closed: make(chan struct{})}
			done := make(chan struct{})
			var deadAt atomic.Int64
			start := time.Now()
			go keepalive(c, interval, done, func() { deadAt.Store(int64(time.Since(start))) })
			select {
			case <-c.closed:
			case <-time.After(20 * interval):
			}
			close(done)
			cut := deadAt.Load() != 0
			if cut != tc.cut {
				t.Fatalf("cut off = %v after %d probes, want %v", cut, c.probes.Load(), tc.cut)
			}
			// The first probe goes at one interval; the cut comes
			// KeepaliveCount intervals later, at the earliest.
			if at := time.Duration(deadAt.Load()); cut && at < (KeepaliveCount+1)*interval {
				t.Errorf("cut off after %v, before %v", at, (KeepaliveCount+1)*interval)
			}
		})
	}
}
