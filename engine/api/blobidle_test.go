package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hako/engine"
	"hako/engine/logs"
	"hako/store"
)

// TestBlobUploadStalls: an upload to a source's put_url that stops
// sending is cut off after the idle time with a clear answer, leaving no
// upload; one that keeps sending arrives.
func TestBlobUploadStalls(t *testing.T) {
	old := blobIdle
	blobIdle = 300 * time.Millisecond
	t.Cleanup(func() { blobIdle = old })
	st, err := store.Open(filepath.Join(t.TempDir(), "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := engine.New(engine.Parts{Store: st})
	srv := httptest.NewServer((&Server{Engine: e, Token: "secret", Logs: &logs.Buffer{}}).Handler())
	t.Cleanup(srv.Close)
	_, body := call(t, srv, "POST", "/sources", "secret", "")
	var src struct {
		SourceBlob struct {
			PutURL string `json:"put_url"`
		} `json:"source_blob"`
	}
	if err := json.Unmarshal([]byte(body), &src); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(src.SourceBlob.PutURL)

	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\nfive!", u.Path, u.Host)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a stalled upload got no answer within 10 s: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 422 || time.Since(start) > 5*time.Second {
		t.Errorf("stalled upload: %d after %v, want 422 soon after the idle time", resp.StatusCode, time.Since(start))
	}
	if status, _ := call(t, srv, "GET", u.Path, "", ""); status != 404 {
		t.Errorf("GET after a stalled upload = %d, want 404 (nothing uploaded)", status)
	}
	if status, out := call(t, srv, "PUT", u.Path, "", strings.Repeat("x", 100)); status != 200 {
		t.Errorf("a whole upload after it: %d %s", status, out)
	}
}
