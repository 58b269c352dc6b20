package e2e

import (
	"encoding/json"
	"syscall"
	"testing"

	"hako/engine"
)

// TestReleaseOutputStopped stops the server gracefully (SIGINT) while a
// release phase runs, then starts it again: the release is failed, the
// one before keeps serving, and the release's output ends with a line
// saying the server stopped during the release phase, as after a kill.
func TestReleaseOutputStopped(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "halt")
	dir := repo(t, "procfile-app")
	writeFile(t, dir, "Procfile", "web: python3 -m http.server $PORT\nrelease: echo migrating\n")
	s.pushVersion(t, dir, s.key, "halt", "old", 2)
	s.waitPath(t, "halt", "/", "old\n")
	writeFile(t, dir, "Procfile", "web: python3 -m http.server $PORT\nrelease: echo migrating slowly; sleep 60\n")
	writeFile(t, dir, "index.html", "new\n")
	git(t, dir, "commit", "-qam", "new")
	out := s.pushSignaledAt(t, dir, "halt", "remote:        migrating slowly", syscall.SIGINT)
	t.Logf("push output:\n%s", out)
	s.start()
	s.waitPath(t, "halt", "/", "old\n")

	type release struct {
		Status          string  `json:"status"`
		Current         bool    `json:"current"`
		OutputStreamURL *string `json:"output_stream_url"`
	}
	get := func(v string) release {
		code, body := s.api(t, "GET", "/apps/halt/releases/"+v, "")
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
}
