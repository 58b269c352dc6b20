package cmd

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// An ephemeral server listens on loopback only, on free ports (every
// port the server has, those added later included), keeps its caches
// where it is told, and its home is gone once it is closed.
func TestEphemeralServer(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("HAKO_CACHE_DIR", t.TempDir())
	t.Setenv("HAKO_DYNO_NETWORK", "host")
	cfg, err := ephemeralConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dynos.StopGrace = testServerConfig().Dynos.StopGrace
	e, err := startEphemeral(io.Discard, cfg)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = e.Close()
		}
	})
	if filepath.Dir(e.home) != os.Getenv("TMPDIR") {
		t.Errorf("home %s is not in TMPDIR", e.home)
	}
	for name, l := range e.srv.ls {
		a, ok := l.Addr().(*net.TCPAddr)
		if !ok || !a.IP.IsLoopback() || a.Port == 0 {
			t.Errorf("%s listens on %v, want a free loopback port", name, l.Addr())
		}
	}
	if e.srv.layout.Cache != filepath.Join(os.Getenv("HAKO_CACHE_DIR"), "cache") {
		t.Errorf("build caches in %s, not in HAKO_CACHE_DIR", e.srv.layout.Cache)
	}
	waitUntil(t, "server.json", func() bool { _, err := os.Stat(filepath.Join(e.home, "server.json")); return err == nil })
	closed = true
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.home); !os.IsNotExist(err) {
		t.Errorf("home %s is left: %v", e.home, err)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("HAKO_CACHE_DIR"), "cache")); err != nil {
		t.Errorf("the caches went with the server: %v", err)
	}
}
