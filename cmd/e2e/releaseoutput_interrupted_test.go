package e2e

import (
	"encoding/json"
	"syscall"
	"testing"

	"hako/engine"
)

// TestReleaseOutputInterrupted stops the server while a release phase
// runs (its command prints a line, then sleeps), by a kill (SIGKILL) and
// gracefully (SIGINT), then starts it again: the release is failed, the
// one before keeps serving, and the release's output_stream_url serves
// what the phase printed ended with one line saying the server stopped
// during the release phase (written at the next start after a kill, at
// the stop itself after a graceful one). The output of the release phase
// before, which ended, gets no such line, and a second start adds
// nothing.
func TestReleaseOutputInterrupted(t *testing.T) {
	need(t, "python3")
	for _, c := range []struct {
		name string
		sig  syscall.Signal
	}{{"kill", syscall.SIGKILL}, {"graceful", syscall.SIGINT}} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t)
			s.hako(t, "apps:create", "cut")
			dir := repo(t, "procfile-app")
			writeFile(t, dir, "Procfile", "web: python3 -m http.server $PORT\nrelease: echo migrating\n")
			s.pushVersion(t, dir, s.key, "cut", "old", 2)
			s.waitPath(t, "cut", "/", "old\n")
			writeFile(t, dir, "Procfile", "web: python3 -m http.server $PORT\nrelease: echo migrating slowly; sleep 60\n")
			writeFile(t, dir, "index.html", "new\n")
			git(t, dir, "commit", "-qam", "new")
			s.pushSignaledAt(t, dir, "cut", "remote:        migrating slowly", c.sig)
			s.start()
			s.waitPath(t, "cut", "/", "old\n")

			type release struct {
				Status          string  `json:"status"`
				Current         bool    `json:"current"`
				OutputStreamURL *string `json:"output_stream_url"`
			}
			get := func(v string) release {
				code, body := s.api(t, "GET", "/apps/cut/releases/"+v, "")
				var rel release
				if code != 200 || json.Unmarshal([]byte(body), &rel) != nil || rel.OutputStreamURL == nil {
					t.Fatalf("GET v%s: %d %s", v, code, body)
				}
				return rel
			}
			old, cut := get("2"), get("3")
			if old.Status != "succeeded" || !old.Current || cut.Status != "failed" || cut.Current {
				t.Errorf("v2 %+v, v3 %+v: want v2 succeeded and current, v3 failed", old, cut)
			}
			want := "-----> Running release command...\n" +
				"       migrating slowly\n" +
				engine.InterruptedPhaseLine(3, 2) + "\n"
			if got := fetchURL(t, *cut.OutputStreamURL); got != want {
				t.Errorf("output of v3:\n%q\nwant\n%q", got, want)
			}
			if got, want := fetchURL(t, *old.OutputStreamURL), "-----> Running release command...\n       migrating\n"; got != want {
				t.Errorf("output of v2:\n%q\nwant\n%q", got, want)
			}
			// A second start adds nothing.
			s.killServer()
			s.start()
			if got := fetchURL(t, *get("3").OutputStreamURL); got != want {
				t.Errorf("output of v3 after a second start:\n%q\nwant\n%q", got, want)
			}
		})
	}
}
