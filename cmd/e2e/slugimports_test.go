package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSlugImportsSurviveRestart: a slug import whose archive was
// uploaded, and one only announced, outlive a kill of the server: the
// first releases after the restart, the second's blob URL still takes
// its archive, which then releases too.
func TestSlugImportsSurviveRestart(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "imported")
	type slugImport struct {
		ID   string `json:"id"`
		Blob struct {
			URL string `json:"url"`
		} `json:"blob"`
	}
	announce := func() slugImport {
		code, body := s.api(t, "POST", "/apps/imported/slugs", `{"process_types":{"web":"python3 -m http.server $PORT"}}`)
		var im slugImport
		if code != 201 || json.Unmarshal([]byte(body), &im) != nil || im.Blob.URL == "" {
			t.Fatalf("POST /apps/imported/slugs: %d %s", code, body)
		}
		return im
	}
	upload := func(im slugImport, page string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("PUT", im.Blob.URL, bytes.NewReader(tarGz(t, dir)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("PUT the archive of %s: %d", im.ID, resp.StatusCode)
		}
	}
	release := func(im slugImport) {
		if code, body := s.api(t, "POST", "/apps/imported/releases", `{"slug":"`+im.ID+`"}`); code != 201 {
			t.Fatalf("release of %s: %d %s", im.ID, code, body)
		}
	}
	uploaded := announce()
	upload(uploaded, "uploaded before the restart\n")
	announced := announce()

	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = os.Remove(filepath.Join(s.home, "server.json"))
	s.start()

	if code, body := s.api(t, "GET", "/apps/imported/slugs/"+uploaded.ID, ""); code != 200 {
		t.Errorf("GET the uploaded import after a restart: %d %s", code, body)
	}
	release(uploaded)
	s.waitPath(t, "imported", "/", "uploaded before the restart\n")
	upload(announced, "uploaded after the restart\n")
	release(announced)
	s.waitPath(t, "imported", "/", "uploaded after the restart\n")
}
