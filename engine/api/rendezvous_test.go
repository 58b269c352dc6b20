package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"hako/engine"
	"hako/engine/localca"
)

// TestRendezvousSecrets: a secret is random, good once, and only within
// its TTL; a listener on every address is named by the host the client
// reached the API at.
func TestRendezvousSecrets(t *testing.T) {
	rv := &Rendezvous{TTL: time.Hour}
	if _, err := rv.offer(engine.RunRequest{App: "a"}, false, "127.0.0.1", nil); err == nil {
		t.Fatal("offered before the listener serves")
	}
	rv.SetAddr("127.0.0.1:5000")
	url, err := rv.offer(engine.RunRequest{App: "a", Command: "bash"}, true, "ignored", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^rendezvous://127\.0\.0\.1:5000/([0-9a-f]{64})$`).FindStringSubmatch(url)
	if m == nil {
		t.Fatalf("url %q", url)
	}
	other, _ := rv.offer(engine.RunRequest{App: "a"}, false, "", nil)
	if strings.HasSuffix(other, m[1]) {
		t.Fatal("two offers got the same secret")
	}
	if rv.claim(strings.Repeat("0", 64)) != nil || rv.claim("") != nil {
		t.Error("a wrong secret was taken")
	}
	a := rv.claim(m[1])
	if a == nil || a.req.Command != "bash" || !a.tty {
		t.Fatalf("claim: %+v", a)
	}
	if rv.claim(m[1]) != nil {
		t.Error("a secret was taken twice")
	}

	rv.TTL = time.Millisecond
	dropped := make(chan struct{})
	url, _ = rv.offer(engine.RunRequest{App: "a"}, false, "", func() { close(dropped) })
	select {
	case <-dropped:
	case <-time.After(5 * time.Second):
		t.Fatal("an expired secret's dyno is still listed")
	}
	if rv.claim(url[strings.LastIndex(url, "/")+1:]) != nil {
		t.Error("an expired secret was taken")
	}

	rv.SetAddr("0.0.0.0:5000")
	if url, _ := rv.offer(engine.RunRequest{App: "a"}, false, "localhost", nil); !strings.HasPrefix(url, "rendezvous://localhost:5000/") {
		t.Errorf("on every address: %q", url)
	}
}

// TestRendezvousRefusals: over a real TLS listener, a wrong secret and a
// line longer than any secret get the connection closed, unanswered.
func TestRendezvousRefusals(t *testing.T) {
	ca, err := localca.Load(localca.FilesIn(t.TempDir()), "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := tls.NewListener(inner, ca.TLSConfig())
	rv := &Rendezvous{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); l.Close() })
	go rv.Serve(ctx, l)
	roots := x509.NewCertPool()
	roots.AddCert(ca.CA())
	for name, line := range map[string]string{
		"wrong secret": strings.Repeat("a", 64) + "\r\n",
		"long line":    strings.Repeat("a", 4096) + "\r\n",
		"no line end":  strings.Repeat("a", 64),
	} {
		conn, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{RootCAs: roots})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
		_, _ = io.WriteString(conn, line)
		if name == "no line end" {
			_ = conn.CloseWrite()
		}
		got, _ := io.ReadAll(conn)
		conn.Close()
		if len(got) != 0 {
			t.Errorf("%s: got %q, want the connection closed unanswered", name, got)
		}
	}
}

// TestRendezvousPerUser: one user asking for attached one-off dynos they
// never attach to runs out of secrets of their own, and another user
// still gets one.
func TestRendezvousPerUser(t *testing.T) {
	rv := &Rendezvous{TTL: time.Hour}
	rv.SetAddr("127.0.0.1:5000")
	for i := range maxRendezvousPerUser {
		if _, err := rv.offer(engine.RunRequest{App: "greedy", User: "greedy@example.test"}, false, "", nil); err != nil {
			t.Fatalf("offer %d: %v", i+1, err)
		}
	}
	if _, err := rv.offer(engine.RunRequest{App: "greedy", User: "greedy@example.test"}, false, "", nil); engine.ErrorCode(err) != engine.ECONFLICT {
		t.Errorf("offer past the user's bound: %v, want ECONFLICT", err)
	}
	if _, err := rv.offer(engine.RunRequest{App: "other", User: "other@example.test"}, false, "", nil); err != nil {
		t.Errorf("another user's offer: %v", err)
	}
}

// TestRendezvousRechecksAccess: a collaborator taken off the app between
// asking for `heroku run` and connecting gets the connection closed
// unanswered with a good secret, and no dyno.
func TestRendezvousRechecksAccess(t *testing.T) {
	w := newAuthzWorld(t)
	ca, err := localca.Load(localca.FilesIn(t.TempDir()), "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := tls.NewListener(inner, ca.TLSConfig())
	rv := &Rendezvous{Engine: w.s.Engine, TTL: time.Minute}
	rv.SetAddr(inner.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); l.Close() })
	go rv.Serve(ctx, l)
	url, err := rv.offer(engine.RunRequest{App: "shared", User: "collaborator@example.test", Command: "bash"}, false, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	secret := url[strings.LastIndex(url, "/")+1:]
	w.must(t, roleOwner, "DELETE", "/apps/shared/collaborators/collaborator@example.test", "")

	roots := x509.NewCertPool()
	roots.AddCert(ca.CA())
	conn, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	_, _ = io.WriteString(conn, secret+"\r\n")
	got, _ := io.ReadAll(conn)
	if len(got) != 0 {
		t.Errorf("got %q, want the connection closed unanswered", got)
	}
	if rv.claim(secret) != nil {
		t.Error("the secret was not taken: the test did not reach the check")
	}
}
