package redis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestRotateCredentials: the server answers the new password at once and
// refuses the old one, keeps its port and data, ends a connection held
// with the old password, and comes back with the new one after a
// restart from the returned record; the other add-on is untouched.
func TestRotateCredentials(t *testing.T) {
	needRedis(t)
	p := newProvider(t, reachableDir(t))
	_, rec := provision(t, p, "redis-rot")
	_, other := provision(t, p, "redis-other")
	if _, err := do(addr(rec), rec["password"], "SET", "k", "kept"); err != nil {
		t.Fatal(err)
	}
	held := holdConn(t, addr(rec), rec["password"])

	url, next, err := p.NewCredentials(context.Background(), rec)
	if err != nil {
		t.Fatalf("NewCredentials: %v", err)
	}
	if got, err := do(addr(rec), rec["password"], "PING"); err != nil || got != "PONG" {
		t.Fatalf("before SetCredentials, PING with the old password = %q, %v", got, err)
	}
	if err := p.SetCredentials(context.Background(), rec, url, next); err != nil {
		t.Fatalf("SetCredentials: %v", err)
	}
	// Set again (a start finishing the rotation): the server is left
	// running, a connection made with the new password kept.
	fresh := holdConn(t, addr(rec), next["password"])
	if err := p.SetCredentials(context.Background(), rec, url, next); err != nil {
		t.Fatalf("SetCredentials again: %v", err)
	}
	if _, err := io.WriteString(fresh.c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		t.Fatal(err)
	}
	if reply, err := readReply(fresh.r); err != nil || strings.TrimSpace(reply) != "PONG" {
		t.Errorf("a connection made with the new password, after setting it again: %q, %v", reply, err)
	}
	if next["password"] == rec["password"] || !passwordRE.MatchString(next["password"]) {
		t.Fatalf("new password %q (old %q)", next["password"], rec["password"])
	}
	if want := fmt.Sprintf("redis://default:%s@127.0.0.1:%s", next["password"], rec["port"]); url != want {
		t.Errorf("url = %q, want %q", url, want)
	}
	for _, k := range []string{"name", "port", "data", "plan"} {
		if next[k] != rec[k] {
			t.Errorf("record's %s = %q, was %q", k, next[k], rec[k])
		}
	}
	if _, err := do(addr(rec), rec["password"], "PING"); err == nil || err.Error() != "redis: WRONGPASS invalid username-password pair or user is disabled." {
		t.Errorf("the old password: %v, want WRONGPASS", err)
	}
	if got, err := do(addr(rec), next["password"], "GET", "k"); err != nil || got != "kept" {
		t.Errorf("GET k with the new password = %q, %v", got, err)
	}
	if _, err := io.WriteString(held.c, "*1\r\n$4\r\nPING\r\n"); err == nil {
		if reply, err := readReply(held.r); err == nil {
			t.Errorf("the connection held with the old password still answers %q", reply)
		}
	}
	if got, err := do(addr(other), other["password"], "PING"); err != nil || got != "PONG" {
		t.Errorf("the other add-on: PING = %q, %v", got, err)
	}

	// A server started from the returned record takes the new password.
	p.Stop()
	if err := p.Start(context.Background(), []map[string]string{next}); err != nil {
		t.Fatal(err)
	}
	if got, err := do(addr(rec), next["password"], "GET", "k"); err != nil || got != "kept" {
		t.Errorf("after a restart, GET k = %q, %v", got, err)
	}
	if _, err := do(addr(rec), rec["password"], "PING"); err == nil {
		t.Error("after a restart, the old password answers")
	}
}

// TestRotateCredentialsBadRecord: a record that is not one of this
// provider's, or new credentials of another add-on, are refused, and no
// server is touched.
func TestRotateCredentialsBadRecord(t *testing.T) {
	needRedis(t)
	p := newProvider(t, reachableDir(t))
	_, rec := provision(t, p, "redis-kept")
	for _, bad := range []map[string]string{
		{"name": "../etc", "port": rec["port"], "password": rec["password"]},
		{"name": "redis-kept", "port": "0", "password": rec["password"]},
		{"name": "redis-kept", "port": rec["port"], "password": "short"},
		{"name": "redis-kept", "port": rec["port"], "password": rec["password"], "data": "/etc"},
	} {
		if _, _, err := p.NewCredentials(context.Background(), bad); err == nil {
			t.Errorf("NewCredentials(%v) succeeded", bad)
		}
		if err := p.SetCredentials(context.Background(), bad, "", rec); err == nil {
			t.Errorf("SetCredentials(from %v) succeeded", bad)
		}
		if err := p.SetCredentials(context.Background(), rec, "", bad); err == nil {
			t.Errorf("SetCredentials(to %v) succeeded", bad)
		}
	}
	_, other := provision(t, p, "redis-another")
	if err := p.SetCredentials(context.Background(), rec, "", other); err == nil {
		t.Errorf("SetCredentials to another add-on's record succeeded")
	}
	if got, err := do(addr(rec), rec["password"], "PING"); err != nil || got != "PONG" {
		t.Errorf("after refusals, PING with the password = %q, %v", got, err)
	}
}

// heldConn is a connection authenticated with a password.
type heldConn struct {
	c net.Conn
	r *bufio.Reader
}

func holdConn(t *testing.T, addr, password string) heldConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	h := heldConn{c: c, r: bufio.NewReader(c)}
	req := "*2\r\n$4\r\nAUTH\r\n$" + fmt.Sprint(len(password)) + "\r\n" + password + "\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if reply, err := readReply(h.r); err != nil || strings.TrimSpace(reply) != "OK" {
		t.Fatalf("AUTH: %q %v", reply, err)
	}
	return h
}
