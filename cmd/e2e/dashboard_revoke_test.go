package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestDashboardRevokedToken: revoking the token a dashboard session was
// made with ends that session at once, its live stream included, as
// removing the user does; a session of another token of the same user
// lives on.
func TestDashboardRevokedToken(t *testing.T) {
	c := newDashboardClass(t)
	base := "http://127.0.0.1:" + c.s.apiPort + "/dashboard"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login := func(token string) *http.Cookie {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, k := range resp.Cookies() {
			if k.Name == "hako_session" && resp.StatusCode == http.StatusSeeOther {
				return k
			}
		}
		t.Fatalf("log-in: %d, cookies %v", resp.StatusCode, resp.Cookies())
		return nil
	}
	// page is where GET / sends the session: "" (the page) or the log-in.
	page := func(ck *http.Cookie) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.AddCookie(ck)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return ""
		}
		return resp.Header.Get("Location")
	}

	out, err := c.s.ssh(c.keys["alice"], nil, "auth:tokens:create", "-s", "-d", "laptop")
	if err != nil {
		t.Fatalf("auth:tokens:create: %v\n%s", err, out)
	}
	laptop := strings.TrimSpace(out)
	revoked, kept := login(c.tokens["alice"]), login(laptop)

	// The revoked session's live stream, open before the revocation.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	req.AddCookie(revoked)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	events := bufio.NewReader(resp.Body)
	for {
		l, err := events.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended before it was ready: %v", err)
		}
		if l == "event: ready\n" {
			break
		}
	}
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, events)
		ended <- err
	}()

	out, err = c.s.ssh(c.keys["alice"], nil, "auth:tokens", "--json")
	if err != nil {
		t.Fatalf("auth:tokens: %v\n%s", err, out)
	}
	var tokens []struct{ ID, Description string }
	if err := json.Unmarshal([]byte(out), &tokens); err != nil {
		t.Fatalf("auth:tokens --json: %v\n%s", err, out)
	}
	id := ""
	for _, tk := range tokens {
		if tk.Description == "dashboard" {
			id = tk.ID
		}
	}
	if id == "" {
		t.Fatalf("no dashboard token in %s", out)
	}
	if out, err := c.s.ssh(c.keys["alice"], nil, "auth:tokens:revoke", id); err != nil {
		t.Fatalf("auth:tokens:revoke: %v\n%s", err, out)
	}

	// The stream ends at once, not at its next periodic check.
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("the stream failed rather than ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the live stream of a revoked token's session is still open 10 s after the revocation")
	}
	if loc := page(revoked); loc != "/dashboard/login" {
		t.Fatalf("GET / with the revoked token's session went to %q, want the log-in", loc)
	}
	req, _ = http.NewRequest("GET", base+"/events", nil)
	req.AddCookie(revoked)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("events with the revoked token's session: %d, want 401", resp.StatusCode)
		}
	}
	if loc := page(kept); loc != "" {
		t.Fatalf("the session of alice's other token went to %q, want the page", loc)
	}
	// Nor does the revoked token make a new session.
	req, _ = http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"token": {c.tokens["alice"]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := noFollow.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("log-in with the revoked token: %d, want 401", resp.StatusCode)
		}
	}
}
