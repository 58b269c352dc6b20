package cmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"hako/engine"
	"hako/engine/dyno"
)

// TestMain lets the test binary be the dyno init the supervisor starts
// (as the hako binary is), for the servers these tests run in-process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "dyno-init" {
		os.Exit(Main(os.Args))
	}
	os.Exit(m.Run())
}

// lockedBuffer is an io.Writer the server's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testServerConfig() serverConfig {
	return serverConfig{
		SSHAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", RendezvousAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Domain: "localhost",
		Dynos:      dyno.Options{BootTimeout: 10 * time.Second, StopGrace: 2 * time.Second, CycleAfter: time.Hour, MemoryLimit: 256 << 20},
		RouterIdle: 90 * time.Second,
	}
}

// TestServerRunsInProcess runs the whole server on free ports over a
// fresh HAKO_HOME: the API answers and starts a real add-on server, the
// router answers, and Shutdown leaves no goroutine, process, port or
// server.json behind, nor the store's lock.
func TestServerRunsInProcess(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is needed: %v", err)
		}
		t.Skip("redis-server is not installed")
	}
	goroutines := runtime.NumGoroutine()
	home := t.TempDir()
	var out, logs lockedBuffer
	srv, err := NewServer(&Env{Stdout: &out, Stderr: &logs}, home, testServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(context.Background()) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	layout := engine.NewLayout(home)
	waitUntil(t, "server.json written", func() bool { _, err := os.Stat(layout.ServerInfo); return err == nil })
	info, err := readServerInfo(home)
	if err != nil {
		t.Fatal(err)
	}
	if *info != srv.Info() {
		t.Errorf("server.json = %+v, want %+v", *info, srv.Info())
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 60 * time.Second}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, info.APIURL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+info.Token)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := call("GET", "/apps", ""); code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("GET /apps = %d %s, want 200 []", code, body)
	}
	if code, body := call("POST", "/apps", `{"name":"inproc"}`); code != 201 {
		t.Fatalf("POST /apps = %d %s", code, body)
	}
	if code, body := call("POST", "/apps/inproc/addons", `{"plan":"heroku-redis"}`); code != 201 {
		t.Fatalf("POST /apps/inproc/addons = %d %s\n%s", code, body, logs.String())
	}
	if len(children(t)) == 0 {
		t.Fatal("the Redis add-on runs no process of the server")
	}
	req, _ := http.NewRequest("GET", "http://"+info.HTTPAddr+"/", nil)
	req.Host = "nowhere.localhost"
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("router for an unknown app = %d, want 404", res.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil {
		t.Errorf("Run = %v", err)
	}
	if _, err := os.Stat(layout.ServerInfo); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server.json left behind: %v", err)
	}
	for _, addr := range []string{info.SSHAddr, info.HTTPAddr, strings.TrimPrefix(info.APIURL, "http://")} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", addr)
		}
	}
	if ps := children(t); len(ps) > 0 {
		t.Errorf("processes left running: %v", ps)
	}
	client.CloseIdleConnections()
	waitUntil(t, "the server's goroutines gone", func() bool { return runtime.NumGoroutine() <= goroutines })
	if t.Failed() {
		buf := make([]byte, 1<<20)
		t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
	// The store's lock went with the server: another one can start.
	again, err := NewServer(&Env{Stdout: io.Discard, Stderr: io.Discard}, home, testServerConfig())
	if err != nil {
		t.Fatalf("a second server on the same home: %v", err)
	}
	if err := again.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown of a server that never ran = %v", err)
	}
	if !strings.Contains(out.String(), "Stopping hako: stopping dynos...\n") {
		t.Errorf("no stop line in:\n%s", out.String())
	}
}

// TestServerRefusesABusyHome checks that a second server on a home in use
// fails with a sentence and leaves the first one serving.
func TestServerRefusesABusyHome(t *testing.T) {
	home := t.TempDir()
	first, err := NewServer(&Env{Stdout: io.Discard, Stderr: io.Discard}, home, testServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Shutdown(context.Background()) })
	_, err = NewServer(&Env{Stdout: io.Discard, Stderr: io.Discard}, home, testServerConfig())
	if engine.ErrorCode(err) != engine.ECONFLICT {
		t.Fatalf("second server = %v, want ECONFLICT", err)
	}
}

// TestServerStopsWhenAPartFails checks the one stop path from its other
// end: a part that cannot serve (an SSH host key that does not parse)
// ends Run with its error, and every other part stops with it.
func TestServerStopsWhenAPartFails(t *testing.T) {
	home := t.TempDir()
	layout := engine.NewLayout(home)
	if err := layout.Create(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(layout.HostKey, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	goroutines := runtime.NumGoroutine()
	srv, err := NewServer(&Env{Stdout: io.Discard, Stderr: io.Discard}, home, testServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- srv.Run(context.Background()) }()
	select {
	case err := <-ran:
		if want := "ssh: parse host key " + layout.HostKey + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Run = %v, want an error starting %q", err, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run still serving with a broken SSH server")
	}
	info := srv.Info()
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(info.APIURL, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("the API still accepts connections")
	}
	if _, err := os.Stat(layout.ServerInfo); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server.json left behind: %v", err)
	}
	waitUntil(t, "the server's goroutines gone", func() bool { return runtime.NumGoroutine() <= goroutines })
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after Run ended = %v", err)
	}
}

// children lists the processes whose parent is this one.
func children(t *testing.T) []string {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("read /proc: %v", err)
	}
	var pids []string
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		pids = append(pids, strings.Fields(string(b))...)
	}
	return pids
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s", what)
			return
		}
	}
}
