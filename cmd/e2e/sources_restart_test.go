package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"hako/store"
)

// killServer stops s as a crash would, SIGKILL and no cleanup, so that
// what survives is only what was on disk.
func (s *server) killServer() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = os.Remove(filepath.Join(s.home, "server.json"))
}

// TestSourcesSurviveRestart: sources of POST /sources outlive a kill of
// the server. One uploaded before builds from its get_url after the
// restart; one only announced still takes its upload; one whose hour
// passed while the server was down is gone at the start, file and URL;
// and the per-user bound counts the sources restored.
func TestSourcesSurviveRestart(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "sourced")
	type blob struct {
		SourceBlob struct {
			GetURL string `json:"get_url"`
			PutURL string `json:"put_url"`
		} `json:"source_blob"`
	}
	create := func() blob {
		code, body := s.api(t, "POST", "/sources", "")
		var b blob
		if code != 201 || json.Unmarshal([]byte(body), &b) != nil || b.SourceBlob.PutURL == "" {
			t.Fatalf("POST /sources: %d %s", code, body)
		}
		return b
	}
	source := func(page string) []byte {
		dir := t.TempDir()
		writeFile(t, dir, "index.html", page)
		writeFile(t, dir, "Procfile", "web: python3 -m http.server $PORT\n")
		return tarGz(t, dir)
	}
	files := func() []string {
		m, _ := filepath.Glob(filepath.Join(s.home, "sources", "*"))
		for i := range m {
			m[i] = filepath.Base(m[i])
		}
		return m
	}
	kept, expiring, announced := create(), create(), create()
	putBlob(t, kept.SourceBlob.PutURL, source("built from a source kept across a restart\n"))
	putBlob(t, expiring.SourceBlob.PutURL, source("expired\n"))
	if f := files(); len(f) != 2 {
		t.Fatalf("the uploads lie in %v, want two files", f)
	}

	// The expiring source's hour passes while the server is down.
	s.killServer()
	st, err := store.Open(filepath.Join(s.home, "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.Sources()
	if err != nil || len(list) != 3 {
		t.Fatalf("the store keeps %d sources (%v), want 3", len(list), err)
	}
	var keptFile string
	for _, src := range list {
		switch {
		case strings.HasSuffix(expiring.SourceBlob.PutURL, "/"+src.Secret):
			src.ExpiresAt = time.Now().Add(-time.Minute)
			if err := st.PutSource(src); err != nil {
				t.Fatal(err)
			}
		case strings.HasSuffix(kept.SourceBlob.PutURL, "/"+src.Secret):
			keptFile = src.ID + ".tgz"
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	s.start()

	if f := files(); !slices.Equal(f, []string{keptFile}) {
		t.Errorf("after the start the sources hold %v, want the kept upload %s alone", f, keptFile)
	}
	if resp, err := http.Get(expiring.SourceBlob.GetURL); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET of the expired source: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	code, body := s.api(t, "POST", "/apps/sourced/builds", `{"source_blob":{"url":"`+kept.SourceBlob.GetURL+`"}}`)
	var b struct{ ID, Status string }
	if code != 201 || json.Unmarshal([]byte(body), &b) != nil {
		t.Fatalf("build of the kept source: %d %s", code, body)
	}
	waitFor(t, 2*time.Minute, "the build to end", func() bool {
		_, body := s.api(t, "GET", "/apps/sourced/builds/"+b.ID, "")
		return json.Unmarshal([]byte(body), &b) == nil && b.Status != "pending"
	})
	if b.Status != "succeeded" {
		t.Fatalf("build of the kept source: %s", b.Status)
	}
	s.waitBody(t, "sourced", "built from a source kept across a restart")

	putBlob(t, announced.SourceBlob.PutURL, source("uploaded after the restart\n"))
	if got := fetchURL(t, announced.SourceBlob.GetURL); !strings.HasPrefix(got, "\x1f\x8b") {
		t.Errorf("GET of the source uploaded after the restart: %q", got)
	}

	// Two of the user's eight are restored: six more fit, not seven.
	for range 6 {
		create()
	}
	code, body = s.api(t, "POST", "/sources", "")
	var e struct{ ID, Message string }
	if json.Unmarshal([]byte(body), &e) != nil || code != 422 ||
		e.Message != "Too many sources wait for their upload or build (at most 8 of yours, each for an hour): use or let expire the ones made." {
		t.Errorf("a ninth source: %d %s", code, body)
	}
}
