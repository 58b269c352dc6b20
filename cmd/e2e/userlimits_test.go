package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// apiCall sends a request to the server's API with token and returns the
// response, whose body the caller closes; ctx ends a stream.
func (s *server) apiCall(t *testing.T, ctx context.Context, token, method, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, "http://127.0.0.1:"+s.apiPort+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// apiError is the id and message of an API error answer.
func apiError(body string) string {
	var e struct{ ID, Message string }
	if json.Unmarshal([]byte(body), &e) != nil {
		return "not an error body: " + body
	}
	return e.ID + ": " + e.Message
}

// answer reads a whole answer: its status and body.
func answer(resp *http.Response) (int, string) {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTailsPerUser: with --max-tails-per-user 2 a member holds at most two
// log tails at once, however opened (the API's log-lines, a log session,
// `logs --tail` over SSH): the next is refused with 429 and Heroku's error
// shape, and ending one frees its place. Another member's tails are their
// own; the administrator has no bound. Log sessions waiting to be read
// are bounded too.
func TestTailsPerUser(t *testing.T) {
	c := newClass(t, "--max-tails-per-user", "2")
	owner := strings.TrimSpace(c.must(t, "owner", "auth:tokens:create", "-s", "-d", "tails"))
	collab := strings.TrimSpace(c.must(t, "collab", "auth:tokens:create", "-s", "-d", "tails"))
	adminTok, err := os.ReadFile(filepath.Join(c.s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(adminTok))
	const refused = "rate_limit: You have 2 log tails open, as many as a user may at once: end one (Ctrl-C) and try again."

	// tail opens a tail as token and holds it until the test ends or
	// its cancel is called.
	tail := func(token string) (int, string, context.CancelFunc) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		resp := c.s.apiCall(t, ctx, token, "GET", "/apps/shared/log-lines?tail=true", "")
		if resp.StatusCode != http.StatusOK {
			code, body := answer(resp)
			cancel()
			return code, body, cancel
		}
		t.Cleanup(func() { resp.Body.Close() })
		return http.StatusOK, "", cancel
	}
	_, _, endFirst := tail(owner)
	if code, body, _ := tail(owner); code != http.StatusOK {
		t.Fatalf("owner's second tail: %d %s", code, body)
	}
	if code, body, _ := tail(owner); code != http.StatusTooManyRequests || apiError(body) != refused {
		t.Fatalf("owner's third tail: %d %s, want 429 %s", code, body, refused)
	}
	// A log session asking for a tail is refused when asked for.
	if code, body := answer(c.s.apiCall(t, context.Background(), owner, "POST", "/apps/shared/log-sessions", `{"tail":true}`)); code != http.StatusTooManyRequests || apiError(body) != refused {
		t.Fatalf("owner's log session with a tail: %d %s, want 429", code, body)
	}
	// Over SSH the commands act as the key's user: the same bound.
	out, err := c.ssh("owner", "logs", "--tail", "-a", "shared")
	if err == nil || !hasLine(out, " ▸    You have 2 log tails open, as many as a user may at once: end one (Ctrl-C) and try again.") {
		t.Fatalf("owner's tail over SSH: %v\n%s", err, out)
	}
	// Another member's bound is their own; the administrator has none.
	if code, body, _ := tail(collab); code != http.StatusOK {
		t.Fatalf("collab's tail: %d %s", code, body)
	}
	for i := range 3 {
		if code, body, _ := tail(admin); code != http.StatusOK {
			t.Fatalf("admin's tail %d: %d %s", i+1, code, body)
		}
	}
	// Ending a tail frees its place.
	endFirst()
	waitFor(t, 10*time.Second, "a place after a tail ended", func() bool {
		code, _, _ := tail(owner)
		return code == http.StatusOK
	})

	// A log session opened within the bound streams; read once, its URL
	// is spent.
	var ls struct {
		URL string `json:"logplex_url"`
	}
	if code, body := answer(c.s.apiCall(t, context.Background(), collab, "POST", "/apps/shared/log-sessions", `{"lines":5}`)); code != http.StatusCreated || json.Unmarshal([]byte(body), &ls) != nil {
		t.Fatalf("collab's log session: %d %s", code, body)
	}
	if resp, err := http.Get(ls.URL); err != nil {
		t.Fatal(err)
	} else if code, _ := answer(resp); code != http.StatusOK {
		t.Fatalf("reading the log session: %d", code)
	}
	// Log sessions asked for and never read are bounded per user.
	for i := range 33 {
		code, body := answer(c.s.apiCall(t, context.Background(), collab, "POST", "/apps/shared/log-sessions", `{"lines":1}`))
		if i < 32 && code != http.StatusCreated {
			t.Fatalf("pending log session %d: %d %s", i+1, code, body)
		}
		if i == 32 && (code != http.StatusTooManyRequests || apiError(body) != "rate_limit: Too many log sessions are waiting to be read; try again in a minute.") {
			t.Fatalf("a 33rd pending log session: %d %s, want 429", code, body)
		}
	}
}

// TestDetachedPerUser: with --max-detached-per-user 2 a member has at most
// two detached one-off dynos running (run:detached, as the heroku CLI
// asks for them): the third is refused with 429 and Heroku's error shape
// and does not run; one that exits, or that ps:stop stops, frees its
// place. The administrator has no bound.
func TestDetachedPerUser(t *testing.T) {
	need(t, "python3")
	c := newClass(t, "--max-detached-per-user", "2")
	if out, err := c.s.push(repo(t, "procfile-app"), c.keys["owner"], "shared", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	owner := strings.TrimSpace(c.must(t, "owner", "auth:tokens:create", "-s", "-d", "detached"))
	adminTok, err := os.ReadFile(filepath.Join(c.s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(adminTok))
	detach := func(token, command string) (int, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"command": command, "attach": false})
		return answer(c.s.apiCall(t, context.Background(), token, "POST", "/apps/shared/dynos", string(body)))
	}
	oneoffs := func() int {
		n := 0
		for _, d := range c.s.dynos(t, "shared") {
			if strings.HasPrefix(d.Name, "run.") {
				n++
			}
		}
		return n
	}
	code, body := detach(owner, "sleep 600")
	var first struct{ Name string }
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &first) != nil {
		t.Fatalf("first detached dyno: %d %s", code, body)
	}
	if code, body := detach(owner, "sleep 4"); code != http.StatusCreated {
		t.Fatalf("second detached dyno: %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "two one-off dynos in ps", func() bool { return oneoffs() == 2 })
	const refused = "rate_limit: Cannot run more than 2 detached one-off dynos at once: wait for one to exit and try again."
	if code, body := detach(owner, "sleep 600"); code != http.StatusTooManyRequests || apiError(body) != refused {
		t.Fatalf("third detached dyno: %d %s, want 429 %s", code, body, refused)
	}
	if n := oneoffs(); n != 2 {
		t.Fatalf("%d one-off dynos after the refusal, want 2", n)
	}
	if code, body := detach(admin, "sleep 600"); code != http.StatusCreated {
		t.Fatalf("the administrator's detached dyno: %d %s", code, body)
	}
	// The dyno of `sleep 4` exits and gives its place back.
	waitFor(t, 30*time.Second, "a place once a detached dyno exited", func() bool {
		code, _ := detach(owner, "sleep 600")
		return code == http.StatusCreated
	})
	// ps:stop ends a one-off (it is not restarted) and frees its place.
	out := c.must(t, "owner", "ps:stop", "-a", "shared", first.Name)
	if !hasLine(out, "Stopping "+first.Name+" dyno on ⬢ shared... done") {
		t.Errorf("ps:stop %s:\n%s", first.Name, out)
	}
	waitFor(t, 30*time.Second, first.Name+" gone from ps", func() bool {
		for _, d := range c.s.dynos(t, "shared") {
			if d.Name == first.Name {
				return false
			}
		}
		return true
	})
	if code, body := detach(owner, "sleep 600"); code != http.StatusCreated {
		t.Fatalf("a detached dyno once one was stopped: %d %s", code, body)
	}
}

// TestDetachedCycled: a detached one-off dyno runs no longer than any
// dyno: at its cycle (--cycle-after) it is stopped, logged as Heroku's
// `Cycling`, and not restarted, and its place under the user's bound is
// free again.
func TestDetachedCycled(t *testing.T) {
	need(t, "python3")
	c := newClass(t, "--cycle-after", "3s", "--stop-grace", "1s", "--max-detached-per-user", "1")
	if out, err := c.s.push(repo(t, "procfile-app"), c.keys["owner"], "shared", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	owner := strings.TrimSpace(c.must(t, "owner", "auth:tokens:create", "-s", "-d", "detached"))
	body := `{"command":"sleep 600","attach":false}`
	var d struct{ Name string }
	if code, out := answer(c.s.apiCall(t, context.Background(), owner, "POST", "/apps/shared/dynos", body)); code != http.StatusCreated || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("detached dyno: %d %s", code, out)
	}
	waitFor(t, 30*time.Second, d.Name+" cycled", func() bool {
		return strings.Contains(c.s.out.String(), " heroku["+d.Name+"]: Cycling\n")
	}, func() string { return c.s.out.String() })
	waitFor(t, 20*time.Second, d.Name+" gone from ps", func() bool {
		for _, dy := range c.s.dynos(t, "shared") {
			if dy.Name == d.Name {
				return false
			}
		}
		return true
	})
	if code, out := answer(c.s.apiCall(t, context.Background(), owner, "POST", "/apps/shared/dynos", body)); code != http.StatusCreated {
		t.Fatalf("a detached dyno once the first was cycled: %d %s", code, out)
	}
}
