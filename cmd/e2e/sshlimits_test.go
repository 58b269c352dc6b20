package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// logPrefix is the server log's date and time.
const logPrefix = `\d{4}/\d\d/\d\d \d\d:\d\d:\d\d `

// TestSSHConnectionLimits holds SSH connections open as a hostile client
// would, with OpenSSH and raw TCP: a logged-in connection with no session
// (ssh -N) is closed after --ssh-unused-timeout while a quiet one-off
// dyno's session lasting longer is not; one host's connections still
// logging in stop at --ssh-max-startups-per-host, and every connection
// at --ssh-max-conns, each refusal told to the client and logged, and
// each freed place taken again.
func TestSSHConnectionLimits(t *testing.T) {
	need(t, "python3")
	s := startServer(t, "--ssh-unused-timeout", "2s", "--ssh-max-conns", "8", "--ssh-max-startups-per-host", "2", "--ssh-max-sessions", "3")
	s.hako(t, "apps:create", "quiet")
	if out, err := s.push(repo(t, "env-app"), s.key, "quiet", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	sshArgs := func(extra ...string) []string {
		return append([]string{"-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-p", s.sshPort}, extra...)
	}

	t.Run("NoSession", func(t *testing.T) {
		// ssh -N logs in and opens no session: it would stay for ever.
		c := exec.Command("ssh", sshArgs("-N", "git@127.0.0.1")...)
		start := time.Now()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done:
			if d := time.Since(start); d < 2*time.Second {
				t.Errorf("ssh -N ended after %v, before the unused timeout", d)
			}
		case <-time.After(30 * time.Second):
			_ = c.Process.Kill()
			<-done
			t.Fatal("ssh -N was still connected after 30 s")
		}
		if re := logPrefix + `ssh: closing the connection of admin from 127\.0\.0\.1:\d+: no session open for 2s \(--ssh-unused-timeout\)`; !hasLineMatch(s.out.String(), re) {
			t.Errorf("no log line %s:\n%s", re, s.out.String())
		}
	})

	t.Run("QuietSession", func(t *testing.T) {
		// A one-off dyno silent for 3.5 times the unused timeout.
		start := time.Now()
		out, err := exec.Command("ssh", sshArgs("git@127.0.0.1", "run", "-a", "quiet", "sleep 7; echo slept")...).CombinedOutput()
		if err != nil || !hasLine(string(out), "slept") {
			t.Fatalf("a quiet run session: %v\n%s", err, out)
		}
		if d := time.Since(start); d < 7*time.Second {
			t.Errorf("the session ended after %v, before its command", d)
		}
	})

	t.Run("MaxSessions", func(t *testing.T) {
		// OpenSSH's client opens one session a connection but for
		// ControlMaster; x/crypto/ssh's opens as many as asked.
		pem, err := os.ReadFile(s.key)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := gossh.ParsePrivateKey(pem)
		if err != nil {
			t.Fatal(err)
		}
		c, err := gossh.Dial("tcp", "127.0.0.1:"+s.sshPort, &gossh.ClientConfig{User: "git", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := 0; i < 3; i++ {
			if _, err := c.NewSession(); err != nil {
				t.Fatalf("session %d refused: %v", i+1, err)
			}
		}
		start := time.Now()
		for i := 0; i < 1000; i++ {
			_, err := c.NewSession()
			var oce *gossh.OpenChannelError
			if !errors.As(err, &oce) || oce.Reason != gossh.ResourceShortage || oce.Message != "hako: this connection has 3 sessions open, as many as one may hold: end one, or open another connection" {
				t.Fatalf("session %d past --ssh-max-sessions: %v", 4+i, err)
			}
		}
		t.Logf("1000 sessions past the limit refused in %v", time.Since(start).Round(time.Millisecond))
		re := logPrefix + `ssh: refusing sessions of admin from 127\.0\.0\.1:\d+ past 3 on one connection \(--ssh-max-sessions\)`
		waitFor(t, 5*time.Second, "the log line "+re, func() bool { return hasLineMatch(s.out.String(), re) })
		if n := strings.Count(s.out.String(), "ssh: refusing sessions of "); n != 1 {
			t.Errorf("%d log lines for the refused sessions of one connection, want 1", n)
		}
	})

	// hold opens a connection from ip that never logs in, and returns the
	// first line the server sent: its version, or why it refused.
	hold := func(t *testing.T, ip string) (net.Conn, string) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", "127.0.0.1:"+s.sshPort)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("no line from the server: %v", err)
		}
		return c, strings.TrimRight(line, "\r\n")
	}
	version := func(t *testing.T, line string) {
		t.Helper()
		if !strings.HasPrefix(line, "SSH-2.0-") {
			t.Fatalf("first line %q, want the server's version", line)
		}
	}
	apps := func(from string) (string, error) {
		out, err := exec.Command("ssh", sshArgs("-b", from, "git@127.0.0.1", "apps")...).CombinedOutput()
		return string(out), err
	}

	t.Run("StartupsPerHost", func(t *testing.T) {
		a, l1 := hold(t, "127.0.0.2")
		b, l2 := hold(t, "127.0.0.2")
		version(t, l1)
		version(t, l2)
		if _, line := hold(t, "127.0.0.2"); line != "hako: too many SSH connections from your address are still logging in; try again shortly." {
			t.Errorf("a third connection still logging in from one host got %q", line)
		}
		if out, err := apps("127.0.0.2"); err == nil {
			t.Errorf("ssh from the host with 2 connections logging in got in:\n%s", out)
		}
		if re := logPrefix + `ssh: refused a connection from 127\.0\.0\.2: it has 2 connections not yet logged in, as many as a host may \(--ssh-max-startups-per-host\); 1 refused so far`; !hasLineMatch(s.out.String(), re) {
			t.Errorf("no log line %s:\n%s", re, s.out.String())
		}
		if out, err := apps("127.0.0.3"); err != nil || !hasLine(out, "quiet") {
			t.Errorf("ssh from another host: %v\n%s", err, out)
		}
		a.Close()
		b.Close()
		waitFor(t, 10*time.Second, "the host's places back", func() bool {
			out, err := apps("127.0.0.2")
			return err == nil && hasLine(out, "quiet")
		})
	})

	t.Run("MaxConns", func(t *testing.T) {
		var held []net.Conn
		for i := 0; i < 8; i++ {
			c, line := hold(t, "127.0.0.1")
			version(t, line)
			held = append(held, c)
		}
		if _, line := hold(t, "127.0.0.1"); line != "hako: too many SSH connections are open (in all, or from your address); try again shortly." {
			t.Errorf("the ninth connection got %q", line)
		}
		re := logPrefix + `ssh: 1 connections refused so far, past its share of 8 \(--ssh-max-conns\)`
		waitFor(t, 5*time.Second, "the log line "+re, func() bool { return hasLineMatch(s.out.String(), re) })
		if out, err := apps("127.0.0.1"); err == nil {
			t.Errorf("ssh past --ssh-max-conns got in:\n%s", out)
		}
		held[0].Close()
		waitFor(t, 10*time.Second, "a place back", func() bool {
			out, err := apps("127.0.0.1")
			return err == nil && hasLine(out, "quiet")
		})
	})
}

// TestSSHWorkshopBurst: with the default limits, 30 students behind one
// NAT address (127.0.0.2, bounded as any remote host) running a command
// over SSH in the same instant all get in.
func TestSSHWorkshopBurst(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "burst")
	const students = 30
	var wg sync.WaitGroup
	errs := make(chan string, students)
	start := time.Now()
	for i := 0; i < students; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"-b", "127.0.0.2", "-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
				"-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-p", s.sshPort, "git@127.0.0.1", "apps"}
			out, err := exec.Command("ssh", args...).CombinedOutput()
			if err != nil || !hasLine(string(out), "burst") {
				errs <- fmt.Sprintf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a student was refused: %s", e)
	}
	t.Logf("%d ssh apps from one address at once: %v", students, time.Since(start).Round(time.Millisecond))
	if strings.Contains(s.out.String(), "ssh: refused a connection from ") {
		t.Errorf("the server refused a student:\n%s", s.out.String())
	}
}
