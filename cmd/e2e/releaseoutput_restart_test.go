package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestReleaseOutputSurvivesRestart: the output_stream_url of a release
// whose release phase printed lines serves those exact lines, and ends,
// after the server was killed and started again; destroying the app
// removes the output with it, and its URL answers 404 as for a release
// with no release phase.
func TestReleaseOutputSurvivesRestart(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "phased")
	dir := repo(t, "procfile-app")
	writeFile(t, dir, "Procfile", "web: python3 -m http.server $PORT\nrelease: for i in 1 2 3; do echo \"migrating step $i\"; done; echo done\n")
	s.pushVersion(t, dir, s.key, "phased", "with a release phase", 2)
	want := "-----> Running release command...\n" +
		"       migrating step 1\n" +
		"       migrating step 2\n" +
		"       migrating step 3\n" +
		"       done\n"
	outputURL := func() string {
		code, body := s.api(t, "GET", "/apps/phased/releases/2", "")
		var rel struct {
			ID              string  `json:"id"`
			OutputStreamURL *string `json:"output_stream_url"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &rel) != nil || rel.OutputStreamURL == nil {
			t.Fatalf("GET v2: %d %s", code, body)
		}
		return *rel.OutputStreamURL
	}
	before := outputURL()
	if got := fetchURL(t, before); got != want {
		t.Fatalf("release output before the restart:\n%q\nwant\n%q", got, want)
	}

	s.killServer()
	s.start()
	for _, u := range []string{before, outputURL()} {
		if got := fetchURL(t, u); got != want {
			t.Errorf("release output after the restart (%s):\n%q\nwant\n%q", u, got, want)
		}
	}

	// An app destroyed in this server's life loses its output too.
	s.hako(t, "apps:create", "phased2")
	s.pushVersion(t, dir, s.key, "phased2", "a second app", 2)
	code, body := s.api(t, "GET", "/apps/phased2/releases/2", "")
	var rel2 struct {
		OutputStreamURL *string `json:"output_stream_url"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &rel2) != nil || rel2.OutputStreamURL == nil {
		t.Fatalf("GET v2 of phased2: %d %s", code, body)
	}
	if got := fetchURL(t, *rel2.OutputStreamURL); got != want {
		t.Errorf("release output of phased2:\n%q", got)
	}
	s.hako(t, "apps:destroy", "-a", "phased2", "--confirm", "phased2")
	if resp, err := http.Get(*rel2.OutputStreamURL); err != nil || resp.StatusCode != 404 {
		t.Errorf("the output URL of a release of phased2, destroyed: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	logs, _ := filepath.Glob(filepath.Join(s.home, "builds", "*", "releases", "*.log"))
	if len(logs) != 1 {
		t.Fatalf("release outputs on disk: %v, want one", logs)
	}
	s.hako(t, "apps:destroy", "-a", "phased", "--confirm", "phased")
	if _, err := os.Stat(logs[0]); !os.IsNotExist(err) {
		t.Errorf("the output outlived its app: %v", err)
	}
	resp, err := http.Get(before)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("the output URL of a destroyed app's release: %d, want 404", resp.StatusCode)
	}
}
