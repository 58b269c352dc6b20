package redis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needRedis skips without redis-server, except in CI where it must be.
func needRedis(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is required in CI")
		}
		t.Skip("redis-server is not installed")
	}
}

// reachableDir returns a directory whose every ancestor others may
// search, unlike t.TempDir's.
func reachableDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "hako-redis-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o711); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "redis")
}

// newProvider returns a provider on dir whose servers are stopped when
// the test ends, checking that none of them is left running.
func newProvider(t *testing.T, dir string) *Provider {
	t.Helper()
	p := New(dir, Options{Logf: t.Logf})
	t.Cleanup(func() {
		p.Stop()
		if pids := leftovers(p); len(pids) > 0 {
			t.Errorf("redis-server processes left running: %v", pids)
		}
		os.RemoveAll(p.fallbackBase())
	})
	return p
}

// leftovers lists the redis-server processes working in one of p's
// directories (a server's working directory is its data directory).
func leftovers(p *Provider) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if !strings.Contains(string(cmdline), "redis-server") {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if strings.HasPrefix(cwd, p.dir+"/") || strings.HasPrefix(cwd, p.fallbackBase()+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func provision(t *testing.T, p *Provider, name string) (string, map[string]string) {
	t.Helper()
	url, rec, err := p.Provision(context.Background(), name, "")
	if err != nil {
		t.Fatalf("Provision(%s): %v", name, err)
	}
	want := fmt.Sprintf("redis://default:%s@127.0.0.1:%s", rec["password"], rec["port"])
	if url != want || rec["name"] != name || len(rec["password"]) != 32 {
		t.Fatalf("Provision(%s) = %q, %v", name, url, rec)
	}
	return url, rec
}

// do authenticates with password and runs one command, returning its
// reply as text; an error reply is an error.
func do(addr, password string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for i, cmd := range [][]string{{"AUTH", password}, args} {
		var b strings.Builder
		fmt.Fprintf(&b, "*%d\r\n", len(cmd))
		for _, a := range cmd {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := io.WriteString(c, b.String()); err != nil {
			return "", err
		}
		reply, err := readReply(br)
		if err != nil || i == 1 {
			return reply, err
		}
	}
	return "", nil
}

func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch line[0] {
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "(nil)", nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return "", err
		}
		return string(b[:n]), nil
	default:
		return line[1:], nil
	}
}

func addr(rec map[string]string) string { return "127.0.0.1:" + rec["port"] }

// answers reports whether anything listens on the add-on's port.
func answers(rec map[string]string) bool {
	c, err := net.DialTimeout("tcp", addr(rec), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
