package sshgit

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"hako/engine/netlimit"
)

// What one client may hold open on the SSH port, besides the port's share
// of connections (cmd/limits.go) and the login timeout. A connection is
// only worth its descriptor while it carries a session (a push, a clone,
// a command): one that never opens a session, or keeps the connection
// once its sessions ended, is closed UnusedTimeout after it logged in or
// its last session ended, as sshd's UnusedConnectionTimeout does; a
// session, however quiet (a build, an attached dyno waiting for its
// user), keeps it, and keepalives find a client that is gone
// (keepalive.go). One connection holds at most
// MaxSessions sessions, as sshd's MaxSessions; and one remote host has at
// most MaxStartupsPerHost connections that have not yet logged in, in
// the spirit of sshd's MaxStartups and PerSourceMaxStartups: an
// anonymous client holds only those, each for at most the login timeout.
const (
	// DefaultUnusedTimeout is how long a connection may have no session
	// open before it is closed.
	DefaultUnusedTimeout = time.Minute
	// DefaultMaxSessions is sshd's MaxSessions: git and the commands
	// use one session a connection, OpenSSH's connection sharing
	// (ControlMaster) a few.
	DefaultMaxSessions = 10
	// DefaultMaxStartupsPerHost leaves room for a classroom behind one
	// NAT address, thirty students pushing in the same second: a login
	// takes a few round trips.
	DefaultMaxStartupsPerHost = 32
)

// refuseWriteTimeout bounds the line written to a refused connection.
const refuseWriteTimeout = 100 * time.Millisecond

// warnEvery spaces the log lines about refusals, so that a flood does not
// flood the log too.
const warnEvery = time.Minute

// connKey holds a connection's *trackedConn in its context.
type connKey struct{}

// trackedConn is an SSH connection as the limits see it: whether it has
// logged in, and how many sessions it has open.
type trackedConn struct {
	net.Conn
	s    *Server
	ctx  ssh.Context
	host string // counted in the host's startups until login, "" when not

	mu       sync.Mutex
	closed   bool
	authed   bool
	sessions int
	// idleSince is when the last session ended (or the client logged
	// in); idle fires UnusedTimeout after it.
	idleSince time.Time
	idle      *time.Timer
	login     *time.Timer
	// warned is set once a refused session was logged.
	warned bool
}

// accept counts a new connection against its host's startups and starts
// its timers; nil means it was refused (and answered).
func (s *Server) accept(ctx ssh.Context, c net.Conn) net.Conn {
	host := netlimit.HostOf(c.RemoteAddr())
	if !s.startups.take(host, s.maxStartupsPerHost()) {
		_ = c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
		_, _ = c.Write([]byte("hako: too many SSH connections from your address are still logging in; try again shortly.\r\n"))
		_ = c.Close()
		if n, ok := s.startups.warn(); ok {
			s.logf("ssh: refused a connection from %s: it has %d connections not yet logged in, as many as a host may (--ssh-max-startups-per-host); %d refused so far", host, s.maxStartupsPerHost(), n)
		}
		return nil
	}
	tc := &trackedConn{Conn: c, s: s, ctx: ctx, host: host}
	ctx.SetValue(connKey{}, tc)
	tc.mu.Lock()
	defer tc.mu.Unlock()
	// A connection that has not logged in within the login timeout is
	// closed, so that idle ones cannot hold SSH's share of connections
	// (and with it `git push`) for ever.
	tc.login = time.AfterFunc(s.loginTimeout(), func() {
		tc.mu.Lock()
		authed := tc.authed
		tc.mu.Unlock()
		if !authed {
			_ = tc.Close()
		}
	})
	return tc
}

// loggedIn is told that the connection's client proved it holds a
// registered key: the connection leaves its host's startups, and has
// UnusedTimeout to open a session.
func (tc *trackedConn) loggedIn() {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.authed || tc.closed {
		return
	}
	tc.authed = true
	tc.login.Stop()
	tc.s.startups.release(tc.host)
	tc.idleSince = time.Now()
	tc.idle = time.AfterFunc(tc.s.unusedTimeout(), tc.idleExpired)
}

// Close closes the connection once, giving back its place among its
// host's startups if it never logged in.
func (tc *trackedConn) Close() error {
	tc.mu.Lock()
	if !tc.closed {
		tc.closed = true
		tc.login.Stop()
		if tc.idle != nil {
			tc.idle.Stop()
		}
		if !tc.authed {
			tc.s.startups.release(tc.host)
		}
	}
	tc.mu.Unlock()
	return tc.Conn.Close()
}

// idleExpired closes the connection if it has had no session open for
// the unused timeout.
func (tc *trackedConn) idleExpired() {
	timeout := tc.s.unusedTimeout()
	tc.mu.Lock()
	if tc.closed || tc.sessions > 0 {
		tc.mu.Unlock()
		return
	}
	if left := timeout - time.Since(tc.idleSince); left > 0 {
		// A session came and went since this timer was set.
		tc.idle.Reset(left)
		tc.mu.Unlock()
		return
	}
	tc.mu.Unlock()
	user, _ := tc.ctx.Value(userKey{}).(string)
	tc.s.logf("ssh: closing the connection of %s from %s: no session open for %s (--ssh-unused-timeout)", user, tc.RemoteAddr(), timeout)
	_ = tc.Close()
}

// openSession counts a session the client opens, false past max.
func (tc *trackedConn) openSession(max int) bool {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.sessions >= max {
		return false
	}
	tc.sessions++
	if tc.idle != nil {
		tc.idle.Stop()
	}
	return true
}

// closeSession counts a session ended; the last one starts the unused
// timeout.
func (tc *trackedConn) closeSession() {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.sessions--; tc.sessions == 0 && !tc.closed && tc.idle != nil {
		tc.idleSince = time.Now()
		tc.idle.Reset(tc.s.unusedTimeout())
	}
}

// sessionChannel opens a session within the connection's MaxSessions.
func (s *Server) sessionChannel(srv *ssh.Server, conn *gossh.ServerConn, ch gossh.NewChannel, ctx ssh.Context) {
	tc, ok := ctx.Value(connKey{}).(*trackedConn)
	if !ok {
		_ = ch.Reject(gossh.ConnectionFailed, "hako: the connection is not ready")
		return
	}
	max := s.maxSessions()
	if !tc.openSession(max) {
		_ = ch.Reject(gossh.ResourceShortage, fmt.Sprintf("hako: this connection has %d sessions open, as many as one may hold: end one, or open another connection", max))
		tc.mu.Lock()
		first := !tc.warned
		tc.warned = true
		tc.mu.Unlock()
		if first {
			user, _ := ctx.Value(userKey{}).(string)
			s.logf("ssh: refusing sessions of %s from %s past %d on one connection (--ssh-max-sessions)", user, conn.RemoteAddr(), max)
		}
		return
	}
	defer tc.closeSession()
	ssh.DefaultSessionHandler(srv, conn, ch, ctx)
}

// startups counts each remote host's connections not yet logged in.
type startups struct {
	mu       sync.Mutex
	byHost   map[string]int
	refused  int
	lastWarn time.Time
}

// take counts a connection of host, false when host has max already. The
// server's own clients (host "") are not bounded.
func (st *startups) take(host string, max int) bool {
	if host == "" {
		return true
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byHost[host] >= max {
		st.refused++
		return false
	}
	if st.byHost == nil {
		st.byHost = map[string]int{}
	}
	st.byHost[host]++
	return true
}

// release gives back a connection of host.
func (st *startups) release(host string) {
	if host == "" {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byHost[host]--; st.byHost[host] <= 0 {
		delete(st.byHost, host)
	}
}

// warn says whether a refusal is to be logged (the first, then at most
// one a minute) and how many there were so far.
func (st *startups) warn() (int, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.lastWarn.IsZero() && time.Since(st.lastWarn) < warnEvery {
		return st.refused, false
	}
	st.lastWarn = time.Now()
	return st.refused, true
}

func (s *Server) loginTimeout() time.Duration {
	if s.LoginTimeout > 0 {
		return s.LoginTimeout
	}
	return DefaultLoginTimeout
}

func (s *Server) unusedTimeout() time.Duration {
	if s.UnusedTimeout > 0 {
		return s.UnusedTimeout
	}
	return DefaultUnusedTimeout
}

func (s *Server) maxSessions() int {
	if s.MaxSessions > 0 {
		return s.MaxSessions
	}
	return DefaultMaxSessions
}

func (s *Server) maxStartupsPerHost() int {
	if s.MaxStartupsPerHost > 0 {
		return s.MaxStartupsPerHost
	}
	return DefaultMaxStartupsPerHost
}
