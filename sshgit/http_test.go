package sshgit

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestIsGitPath sends git's paths, traversals included, to the git
// handler (which refuses all but /APP.git/…) and leaves the API's alone.
func TestIsGitPath(t *testing.T) {
	for path, want := range map[string]bool{
		"/myapp.git/info/refs":              true,
		"/myapp.git/git-receive-pack":       true,
		"/myapp.git/HEAD":                   true,
		"/myapp.git":                        true,
		"/../myapp.git/info/refs":           true,
		"/x/../myapp.git/git-upload-pack":   true,
		"/apps/myapp/../../x.git/info/refs": true,
		"/apps":                             false,
		"/apps/myapp/releases":              false,
		"/users/bob.git/apps":               false,
		"/account/keys/laptop.git":          false,
	} {
		if got := IsGitPath(path); got != want {
			t.Errorf("IsGitPath(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestIdleBody: a client that stops sending its request body midway is
// cut off after the idle time, its read ending as a truncated body,
// while one that keeps sending is not.
func TestIdleBody(t *testing.T) {
	result := make(chan error, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := &idleReader{r: r.Body, rc: http.NewResponseController(w), idle: 300 * time.Millisecond}
		_, err := io.Copy(io.Discard, body)
		result <- err
	}))
	t.Cleanup(srv.Close)
	send := func(stall bool) {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		for i := 0; i < 7 && !stall; i++ {
			time.Sleep(100 * time.Millisecond) // slow, but never idle for long
			fmt.Fprint(conn, "d")
		}
		select {
		case err := <-result:
			if stall && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("stalled body: %v, want it cut off", err)
			}
			if !stall && err != nil {
				t.Errorf("slow body: %v, want it read whole", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("stall=%v: the read never ended", stall)
		}
	}
	send(true)
	send(false)
}
