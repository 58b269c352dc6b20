package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// raiseFileLimit gives the test process as many descriptors as it may
// have: it holds thousands of connections.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < need {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the open-files limit is %d, the test needs %d", lim.Cur, need)
		}
		t.Skipf("the open-files limit is %d, the test needs %d", lim.Cur, need)
	}
}

// startServerWithFileLimit starts a server whose open-files limit, soft
// and hard, is files: fewer than a flood's connections, so that a server
// that let the router take them all would have none left for the API and
// SSH.
func startServerWithFileLimit(t *testing.T, files int, flags ...string) *server {
	t.Helper()
	return startWrappedServer(t, []string{"sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, files)}, flags...)
}

// flood opens n connections to addr, sending nothing, and returns them.
func flood(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 10 * time.Second}
			for i := range next {
				if c, err := d.Dial("tcp", addr); err == nil {
					conns[i] = c
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	return conns
}

// closedByServer reports whether the server closed c: a read returns EOF
// or a reset, or the refusal it wrote first, within wait.
func closedByServer(c net.Conn, wait time.Duration) (closed bool, got string) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, string(b)
	}
	return true, string(b)
}

// within runs the hako CLI (or ssh) and fails the test unless it succeeds
// within d: the API and SSH must answer while the router is flooded.
func within(t *testing.T, d time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Env = env
	start := time.Now()
	out, err := c.CombinedOutput()
	t.Logf("%s %s answered in %v", filepath.Base(name), args[len(args)-1], time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not answer within %v during the flood:\n%s", name, strings.Join(args, " "), d, out)
	}
	if err != nil {
		t.Fatalf("%s %s during the flood: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRouterFlood floods the router with 10,000 idle connections, more
// than the server has descriptors (4,096), and checks that the API and SSH keep
// answering, that connections past the router's share are answered 503
// and closed, and that the idle ones are closed after the idle timeout.
func TestRouterFlood(t *testing.T) {
	raiseFileLimit(t, 12000)
	s := startServerWithFileLimit(t, 4096, "--router-idle-timeout", "3s")
	s.hako(t, "apps:create", "flooded")
	env := append(os.Environ(), "HAKO_HOME="+s.home)
	sshArgs := []string{"-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-p", s.sshPort, "git@127.0.0.1", "apps"}

	conns := flood(t, "127.0.0.1:"+s.httpPort, 10000)
	opened := 0
	for _, c := range conns {
		if c != nil {
			opened++
		}
	}
	if opened < 9000 {
		t.Fatalf("only %d of 10000 connections to the router opened", opened)
	}
	if out := within(t, 2*time.Second, env, bin, "apps"); !hasLine(out, "flooded") {
		t.Errorf("hako apps during the flood:\n%s", out)
	}
	if out := within(t, 2*time.Second, env, "ssh", sshArgs...); !hasLine(out, "flooded") {
		t.Errorf("ssh apps during the flood:\n%s", out)
	}
	// Every connection is closed by the server within the idle timeout
	// (plus slack): the ones past its share at once with a 503, the
	// others when they have been idle 3 s.
	refused := 0
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range conns {
		if c == nil {
			continue
		}
		closed, got := closedByServer(c, time.Until(deadline))
		if !closed {
			t.Fatalf("a connection idle for %v is still open", time.Since(deadline.Add(-15*time.Second)))
		}
		if got != "" {
			if line, _, _ := strings.Cut(got, "\r\n"); line != "HTTP/1.1 503 Service Unavailable" {
				t.Fatalf("a refused connection read %q, want a 503", got)
			}
			refused++
		}
	}
	t.Logf("%d connections opened, %d refused past the router's share", opened, refused)
	if refused < opened-4096 {
		t.Errorf("%d of %d connections refused: the router held more than the server's 4096 descriptors", refused, opened)
	}
	if code, _, err := s.get("flooded", "/"); err != nil || code != 503 {
		t.Errorf("router after the flood: %d %v, want the app's 503", code, err)
	}
}

// TestRouterConnectionCap checks --router-max-conns exactly: connections
// within it are held, the next ones read a 503 and are closed, and a
// keep-alive connection is closed once idle for --router-idle-timeout.
func TestRouterConnectionCap(t *testing.T) {
	s := startServer(t, "--router-max-conns", "50", "--router-idle-timeout", "2s")
	addr := "127.0.0.1:" + s.httpPort
	held := flood(t, addr, 50)
	for i, c := range held {
		if c == nil {
			t.Fatalf("connection %d within the cap did not open", i)
		}
	}
	// Each one is accepted: it answers a request (the unknown-app 404).
	// Only then are further ones past the cap, as the server counts
	// accepted connections.
	for i, c := range held {
		if status := request(t, c, "nowhere.localhost"); status != "HTTP/1.1 404 Not Found" {
			t.Fatalf("connection %d within the cap: %q", i, status)
		}
	}
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		closed, got := closedByServer(c, 5*time.Second)
		c.Close()
		if line, _, _ := strings.Cut(got, "\r\n"); !closed || line != "HTTP/1.1 503 Service Unavailable" {
			t.Fatalf("connection past the cap: closed=%v read %q, want a 503", closed, got)
		}
	}
	if out := s.hako(t, "apps"); out == "" {
		t.Error("hako apps printed nothing")
	}
	// Idle, but not yet for 2 s: still open.
	if closed, _ := closedByServer(held[0], 500*time.Millisecond); closed {
		t.Fatal("a keep-alive connection was closed before its idle timeout")
	}
	for i, c := range held {
		if closed, got := closedByServer(c, 10*time.Second); !closed || got != "" {
			t.Fatalf("connection %d after the idle timeout: closed=%v read %q", i, closed, got)
		}
	}
	// Their places are free again.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if status := request(t, c, "nowhere.localhost"); status != "HTTP/1.1 404 Not Found" {
		t.Errorf("a new connection after the idle ones closed: %q", status)
	}
}

// request sends one GET for host on c and returns the status line,
// reading the whole response so that c can be used again.
func request(t *testing.T, c net.Conn, host string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		return "write: " + err.Error()
	}
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil {
		return "read: " + err.Error()
	}
	length := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "read: " + err.Error()
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			length = atoi(strings.TrimSpace(v))
		}
	}
	if length < 0 {
		return "no Content-Length in " + status
	}
	if _, err := io.CopyN(io.Discard, br, int64(length)); err != nil {
		return "read body: " + err.Error()
	}
	if br.Buffered() > 0 {
		return "unexpected bytes after the response"
	}
	return strings.TrimRight(status, "\r\n")
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return -1
		}
		n = n*10 + int(r-'0')
	}
	return n
}
