package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"hako/engine/logs"
)

// TestTailEndsWithAccess: a log tail is checked while it streams, not
// only when it starts. A collaborator taken off the app, a revoked token
// and an app destroyed (whose name a stranger then takes) each end the
// tail, so it never streams lines its reader may no longer read.
func TestTailEndsWithAccess(t *testing.T) {
	w := newAuthzWorld(t)
	srv := httptest.NewServer(w.h)
	t.Cleanup(srv.Close)
	buf := w.s.Logs.(*logs.Buffer)
	w.must(t, roleOwner, "POST", "/apps", `{"name":"doomed"}`)
	w.must(t, roleOwner, "POST", "/apps/doomed/collaborators", `{"user":"collaborator@example.test"}`)
	second, tok, err := w.s.Engine.CreateToken("collaborator@example.test", "second")
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, app, token string
		take             func()
	}{
		{"CollaboratorRemoved", "shared", w.tokens[roleCollab], func() {
			w.must(t, roleOwner, "DELETE", "/apps/shared/collaborators/collaborator@example.test", "")
		}},
		{"TokenRevoked", "doomed", second, func() {
			if err := w.s.Engine.RevokeToken("collaborator@example.test", tok.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"AppDestroyedNameRetaken", "doomed", w.tokens[roleCollab], func() {
			w.must(t, roleOwner, "DELETE", "/apps/doomed", "")
			w.must(t, roleStranger, "POST", "/apps", `{"name":"doomed"}`)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/apps/"+c.app+"/log-lines?tail=true&num=1", nil)
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("tail = %d", resp.StatusCode)
			}
			lines := make(chan string, 16)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			buf.Log(c.app, "app", "web.1", "before")
			waitLine(t, lines, "before")
			c.take()
			deadline := time.After(5 * time.Second)
			for {
				buf.Log(c.app, "app", "web.1", "after")
				select {
				case _, open := <-lines:
					if !open {
						return
					}
				case <-time.After(100 * time.Millisecond):
				case <-deadline:
					t.Fatal("the tail still streams 5 s after its reader lost access")
				}
			}
		})
	}
}

func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, open := <-lines:
			if !open {
				t.Fatalf("the tail ended before %q", want)
			}
			if strings.HasSuffix(l, ": "+want) {
				return
			}
		case <-timeout:
			t.Fatalf("no line %q", want)
		}
	}
}

// TestLogSessionRechecked: a log session's URL read after its creator
// lost access (here the app destroyed and its name taken by a stranger)
// serves nothing of the new app.
func TestLogSessionRechecked(t *testing.T) {
	w := newAuthzWorld(t)
	w.must(t, roleOwner, "POST", "/apps", `{"name":"doomed"}`)
	var ls struct {
		URL string `json:"logplex_url"`
	}
	if err := json.Unmarshal([]byte(w.must(t, roleOwner, "POST", "/apps/doomed/log-sessions", `{"lines":10}`)), &ls); err != nil {
		t.Fatal(err)
	}
	w.must(t, roleOwner, "DELETE", "/apps/doomed", "")
	w.must(t, roleStranger, "POST", "/apps", `{"name":"doomed"}`)
	w.s.Logs.(*logs.Buffer).Log("doomed", "app", "web.1", "the stranger's line")
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, httptest.NewRequest("GET", ls.URL, nil))
	if rec.Code != 404 || strings.Contains(rec.Body.String(), "the stranger's line") {
		t.Errorf("the old session read the new app's log: %d %s", rec.Code, rec.Body)
	}
}
