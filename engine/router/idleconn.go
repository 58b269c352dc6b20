package router

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// idleConn is a connection to a dyno that net/http forwards through
// (HTTPS, HTTP/2, WebSockets): each read or write moves its deadline to
// window from then, so that a connection with nothing sent either way
// for window is ended, as Heroku's router ends a WebSocket or an answer
// silent for 55 s. The deadline moves only when a 64th of the window has
// gone, so that a busy connection does not change a timer per call; it
// covers both directions, as a WebSocket's two copies share it.
type idleConn struct {
	net.Conn
	window time.Duration
	until  atomic.Int64 // the deadline set last, in Unix nanoseconds
}

// idleDial wraps dial's connections in idleConns of window.
func idleDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), window time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		ic := &idleConn{Conn: c, window: window}
		ic.touch()
		return ic, nil
	}
}

// touch moves the deadline when a 64th of the window has gone since it
// was last set.
func (c *idleConn) touch() {
	now := time.Now()
	last := c.until.Load()
	if time.Unix(0, last).Sub(now) >= c.window-c.window/64 {
		return
	}
	next := now.Add(c.window)
	if c.until.CompareAndSwap(last, next.UnixNano()) {
		_ = c.Conn.SetDeadline(next)
	}
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.touch()
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.touch()
	return c.Conn.Write(p)
}
