package sshgit

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"hako/engine"
	"hako/store"
)

// logLines collects a server's log lines for a test.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// has reports whether a line starts with prefix (what follows names ports).
func (l *logLines) has(prefix string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

// limitServer serves s on a loopback port, over an engine where
// ada@example.test holds the returned key; its commands are `sleep D`
// (quiet for D) and anything else (exits at once).
func limitServer(t *testing.T, s *Server) (string, gossh.Signer, *logLines) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	s.Engine = engine.New(engine.Parts{Store: st, ParseKey: ParseKey})
	if _, err := s.Engine.AddUser("ada@example.test", false, string(gossh.MarshalAuthorizedKey(signer.PublicKey()))); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{}
	s.HostKeyPath, s.Logf = filepath.Join(t.TempDir(), "host_key"), logs.logf
	s.Commands = func(sess *Session) int {
		if len(sess.Args) == 2 && sess.Args[0] == "sleep" {
			d, _ := time.ParseDuration(sess.Args[1])
			select {
			case <-time.After(d):
			case <-sess.Context.Done():
			}
		}
		return 0
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return l.Addr().String(), signer, logs
}

func clientConfig(signer gossh.Signer) *gossh.ClientConfig {
	return &gossh.ClientConfig{User: "git", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
}

// dial logs in as ada, the connection closed when the test ends.
func dial(t *testing.T, addr string, signer gossh.Signer) *gossh.Client {
	t.Helper()
	c, err := gossh.Dial("tcp", addr, clientConfig(signer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin waits for the server to close c, and returns how long
// it took, or fails the test if it is still open after d.
func closedWithin(t *testing.T, c *gossh.Client, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("the connection was still open after %v", d)
		return 0
	}
}

// TestUnusedTimeout: a logged-in connection with no session open is
// closed after UnusedTimeout, whether it never opened one or its sessions
// ended; a quiet session keeps it open however long it lasts.
func TestUnusedTimeout(t *testing.T) {
	const unused = 300 * time.Millisecond
	addr, signer, logs := limitServer(t, &Server{UnusedTimeout: unused})

	t.Run("NoSession", func(t *testing.T) {
		c := dial(t, addr, signer)
		if d := closedWithin(t, c, 10*time.Second); d < unused-50*time.Millisecond {
			t.Errorf("closed after %v, before the unused timeout", d)
		}
		if want := "ssh: closing the connection of ada@example.test from 127.0.0.1:"; !logs.has(want) {
			t.Errorf("no log line %q...: %q", want, logs.lines)
		}
	})
	t.Run("QuietSessionThenNone", func(t *testing.T) {
		c := dial(t, addr, signer)
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		// Silent for four times the unused timeout: kept.
		if err := sess.Run("sleep " + (4 * unused).String()); err != nil {
			t.Fatalf("a quiet session was cut: %v", err)
		}
		// Its session ended: the connection goes after the timeout.
		closedWithin(t, c, 10*time.Second)
	})
	t.Run("SessionsComeAndGo", func(t *testing.T) {
		c := dial(t, addr, signer)
		// Sessions one after the other, each gap shorter than the
		// timeout, for longer than it: the connection stays.
		for start := time.Now(); time.Since(start) < 3*unused; {
			sess, err := c.NewSession()
			if err != nil {
				t.Fatalf("session refused after %v: %v", time.Since(start), err)
			}
			if err := sess.Run("true"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(unused / 3)
		}
	})
}

// blockedSigner offers its key but never signs: a client that knows a
// registered public key (they are public) and stops after the server
// said it would accept it.
type blockedSigner struct {
	gossh.Signer
	release chan struct{}
}

func (b blockedSigner) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	<-b.release
	return nil, errors.New("released")
}

// TestLoginTimeoutOfferedKey: offering a registered key is not logging
// in: a client that stops there is closed at the login timeout.
func TestLoginTimeoutOfferedKey(t *testing.T) {
	addr, signer, _ := limitServer(t, &Server{LoginTimeout: 300 * time.Millisecond, UnusedTimeout: time.Hour})
	release := make(chan struct{})
	defer close(release)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The client is stuck signing: its reads (the transport's own
	// goroutine) tell when the server closed the connection.
	rc := &readClosed{Conn: conn, closed: make(chan struct{})}
	go func() { _, _, _, _ = gossh.NewClientConn(rc, addr, clientConfig(blockedSigner{signer, release})) }()
	select {
	case <-rc.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("a client that offered a registered key and never signed was still connected after 10 s")
	}
}

// readClosed tells when a read of its connection fails.
type readClosed struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (r *readClosed) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if err != nil {
		r.once.Do(func() { close(r.closed) })
	}
	return n, err
}

// TestMaxSessions: one connection holds at most MaxSessions sessions;
// past them each is refused, however many the client asks for, and one
// ended makes room.
func TestMaxSessions(t *testing.T) {
	addr, signer, logs := limitServer(t, &Server{MaxSessions: 3})
	c := dial(t, addr, signer)
	var open []*gossh.Session
	for i := 0; i < 3; i++ {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatalf("session %d refused: %v", i+1, err)
		}
		open = append(open, sess)
	}
	for i := 0; i < 1000; i++ {
		_, err := c.NewSession()
		var oce *gossh.OpenChannelError
		if !errors.As(err, &oce) || oce.Reason != gossh.ResourceShortage {
			t.Fatalf("session %d past the limit: %v, want refused for resource shortage", 4+i, err)
		}
		if want := "hako: this connection has 3 sessions open, as many as one may hold: end one, or open another connection"; oce.Message != want {
			t.Fatalf("refusal %q, want %q", oce.Message, want)
		}
	}
	if want := "ssh: refusing sessions of ada@example.test from 127.0.0.1:"; !logs.has(want) {
		t.Errorf("no log line %q...: %q", want, logs.lines)
	}
	open[0].Close()
	var sess *gossh.Session
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for sess, err = c.NewSession(); err != nil && time.Now().Before(deadline); sess, err = c.NewSession() {
		time.Sleep(10 * time.Millisecond) // the server has yet to see the close
	}
	if err != nil {
		t.Fatalf("no session after one closed: %v", err)
	}
	if err := sess.Run("true"); err != nil {
		t.Fatal(err)
	}
}

// TestMaxStartupsPerHost: one remote host (here 127.0.0.2, another
// loopback address) has at most MaxStartupsPerHost connections that have
// not logged in; the next is told why and closed, while other hosts, the
// server's own clients and logged-in connections are not held back.
func TestMaxStartupsPerHost(t *testing.T) {
	addr, signer, logs := limitServer(t, &Server{MaxStartupsPerHost: 2, LoginTimeout: time.Hour, UnusedTimeout: time.Hour})
	from := func(ip string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// firstLine is what the server says first: its version, or a refusal.
	firstLine := func(c net.Conn) string {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("no line from the server: %v", err)
		}
		return strings.TrimRight(line, "\r\n")
	}
	const refusal = "hako: too many SSH connections from your address are still logging in; try again shortly."
	held := []net.Conn{from("127.0.0.2"), from("127.0.0.2")}
	for _, c := range held {
		if line := firstLine(c); !strings.HasPrefix(line, "SSH-2.0-") {
			t.Fatalf("first line %q, want the server's version", line)
		}
	}
	over := from("127.0.0.2")
	if line := firstLine(over); line != refusal {
		t.Fatalf("third connection from one host got %q, want %q", line, refusal)
	}
	if _, err := over.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("refused connection not closed: %v", err)
	}
	if want := "ssh: refused a connection from 127.0.0.2: it has 2 connections not yet logged in"; !logs.has(want) {
		t.Errorf("no log line %q...: %q", want, logs.lines)
	}
	if line := firstLine(from("127.0.0.3")); !strings.HasPrefix(line, "SSH-2.0-") {
		t.Errorf("another host got %q, want the server's version", line)
	}
	for i := 0; i < 4; i++ {
		if line := firstLine(from("127.0.0.1")); !strings.HasPrefix(line, "SSH-2.0-") {
			t.Errorf("the server's own client got %q, want the server's version", line)
		}
	}
	// A connection that logs in gives its place back: with one held
	// connection gone, a client logs in, and the host has room for one
	// more held connection still.
	held[0].Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	var c *gossh.Client
	waitUntil(t, 5*time.Second, func() bool {
		conn, err := d.Dial("tcp", addr)
		if err != nil {
			return false
		}
		cc, chans, reqs, err := gossh.NewClientConn(conn, addr, clientConfig(signer))
		if err != nil {
			conn.Close() // the server has yet to see held[0] closed
			return false
		}
		c = gossh.NewClient(cc, chans, reqs)
		return true
	})
	t.Cleanup(func() { c.Close() })
	if line := firstLine(from("127.0.0.2")); !strings.HasPrefix(line, "SSH-2.0-") {
		t.Errorf("after a login, the host got %q, want the server's version", line)
	}
}

// waitUntil polls cond until it holds, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v", d)
		}
	}
}
