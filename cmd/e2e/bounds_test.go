package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDynoSyscallFilter checks that a dyno cannot make a user namespace,
// where it would be root (unshare -U, unshare -Ur), while what apps do
// every day still works under the filter: a Python web server, Node, git
// and psql to the app's database.
func TestDynoSyscallFilter(t *testing.T) {
	need(t, "python3", "node", "psql", "unshare")
	needRootE2E(t)
	s := startServer(t)
	s.hako(t, "apps:create", "filtered")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "filtered", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "filtered", "hello from procfile")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "filtered")
	script := `grep '^Seccomp:' /proc/self/status
unshare -U true; echo "unshare -U exit $?"
unshare -Ur id -u; echo "unshare -Ur exit $?"
node -e 'const s = require("http").createServer(); s.listen(0, "127.0.0.1", () => { console.log("node listening"); s.close() })'
cd /tmp && git init -q repo && cd repo && git -c user.name=a -c user.email=a@example.test commit -q --allow-empty -m x && echo "git commit done"
psql "$DATABASE_URL" -w -tAc "select 'psql connected'"`
	out := s.hako(t, "run", "-a", "filtered", "--no-tty", script)
	for _, line := range []string{
		"Seccomp:\t2",
		"unshare: unshare failed: Operation not permitted",
		"unshare -U exit 1",
		"unshare -Ur exit 1",
		"node listening",
		"git commit done",
		"psql connected",
	} {
		if !hasLine(out, line) {
			t.Errorf("no line %q from the one-off dyno:\n%s", line, out)
		}
	}
	if code, body, err := s.get("filtered", "/"); err != nil || code != 200 || !strings.Contains(body, "hello from procfile") {
		t.Errorf("the web dyno under the filter: %d %q %v", code, body, err)
	}
}

// TestDomainsRefuseIPs checks that an IP address cannot be an app's
// custom domain: it would capture requests to the server's bare address.
func TestDomainsRefuseIPs(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "ip-grab")
	for _, host := range []string{"127.0.0.1", "[::1]", "::1", "10.1"} {
		out, err := s.run("domains:add", host, "-a", "ip-grab")
		want := " ▸    " + host + " is an IP address, not a hostname: requests to the server's bare address must not reach one app. Give a hostname such as www.example.test."
		if err == nil || !hasLine(out, want) {
			t.Errorf("domains:add %s: %v\n%s\nwant the line %q", host, err, out, want)
		}
	}
	var domains []struct{ Hostname, Kind string }
	out := s.hako(t, "domains", "-a", "ip-grab", "--json")
	if err := json.Unmarshal([]byte(out), &domains); err != nil || len(domains) != 1 || domains[0].Kind != "heroku" {
		t.Errorf("domains after the refusals, want the app's own only: %v\n%s", err, out)
	}
}

// TestLogsEscapeControls checks that terminal control sequences a dyno
// prints reach `hako logs` and the server's own output escaped, and
// `hako logs --json` and the app's drains as written.
func TestLogsEscapeControls(t *testing.T) {
	need(t, "python3")
	var mu sync.Mutex
	var drained strings.Builder
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		drained.Write(b)
		mu.Unlock()
	}))
	t.Cleanup(sink.Close)
	s := startServer(t)
	dir := repo(t, "procfile-app")
	procfile := `web: printf 'ctl \033[2J\033]0;owned\007 \302\233 end\n'; exec python3 -m http.server $PORT` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "controls")
	s.hako(t, "apps:create", "ctl")
	s.hako(t, "drains:add", sink.URL+"/logs", "-a", "ctl")
	if out, err := s.push(dir, s.key, "ctl", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "ctl", "hello from procfile")
	const escaped = `ctl \x1b[2J\x1b]0;owned\x07 \u009b end`
	waitFor(t, 20*time.Second, "the line in hako logs", func() bool {
		return hasLineMatch(s.hako(t, "logs", "-a", "ctl", "--ps", "web"), `\S+ app\[web\.1\]: `+regexp.QuoteMeta(escaped))
	}, func() string { return s.hako(t, "logs", "-a", "ctl") })
	if !hasLineMatch(s.out.String(), `ctl \S+ app\[web\.1\]: `+regexp.QuoteMeta(escaped)) {
		t.Errorf("the server's output lacks the escaped line:\n%q", s.out.String())
	}
	if strings.Contains(s.out.String(), "\x1b") {
		t.Errorf("the server's output holds an escape character")
	}
	found := false
	for _, l := range lines(s.hako(t, "logs", "-a", "ctl", "--ps", "web", "--json")) {
		var line struct{ Source, Dyno, Message string }
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("logs --json line %q: %v", l, err)
		}
		if line.Source == "app" && line.Dyno == "web.1" && line.Message == "ctl \x1b[2J\x1b]0;owned\x07 \u009b end" {
			found = true
		}
	}
	if !found {
		t.Errorf("logs --json lacks the raw line:\n%s", s.hako(t, "logs", "-a", "ctl", "--json"))
	}
	received := func() string {
		mu.Lock()
		defer mu.Unlock()
		return drained.String()
	}
	waitFor(t, 20*time.Second, "the raw line at the drain", func() bool {
		// Octet-counted frames (RFC 6587): the next frame's length follows.
		return regexp.MustCompile(` web\.1 - ctl \x1b\[2J\x1b\]0;owned\x07 \x{009b} end(\d+ <|$)`).MatchString(received())
	}, func() string { return fmt.Sprintf("%q", received()) })
}

// TestDynoDiskQuota checks that a dyno writing past --dyno-disk in /app
// or in /tmp gets ENOSPC, and that what it wrote takes no more than the
// quota of the host's disk.
func TestDynoDiskQuota(t *testing.T) {
	need(t, "python3", "dd", "mkfs.ext4")
	needRootE2E(t)
	s := startServer(t, "--dyno-disk", "64")
	if out := s.hako(t, "apps:create", "filler"); !strings.Contains(out, "filler") {
		t.Fatalf("apps:create: %s", out)
	}
	if out := s.hako(t, "apps:info", "-a", "filler"); !hasLineMatch(out, `Isolation: .*; disk quota 64 MiB for /app and /tmp`) {
		t.Errorf("apps:info does not show the disk quota:\n%s", out)
	}
	var before syscall.Statfs_t
	if err := syscall.Statfs(s.home, &before); err != nil {
		t.Fatal(err)
	}
	dir := repo(t, "procfile-app")
	// 600 MiB into /app, then, with that removed, 600 MiB into /tmp,
	// which the dyno keeps.
	fill := func(path string) string {
		return `dd if=/dev/zero of=` + path + ` bs=1M count=600 2>&1 | grep -o 'No space left on device' | head -1 | sed 's|^|` + path + `: |'`
	}
	procfile := "web: " + fill("/app/big") + "; rm /app/big; " + fill("/tmp/big") + "; echo filled; exec python3 -m http.server $PORT\n"
	if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte(procfile), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "fill the disk")
	if out, err := s.push(dir, s.key, "filler", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "filler", "hello from procfile")
	logs := s.hako(t, "logs", "-a", "filler", "--ps", "web")
	for _, line := range []string{"/app/big: No space left on device", "/tmp/big: No space left on device", "filled"} {
		if !hasLineMatch(logs, `\S+ app\[web\.1\]: `+regexp.QuoteMeta(line)) {
			t.Errorf("no line %q from the web dyno:\n%s", line, logs)
		}
	}
	imgs, _ := filepath.Glob(filepath.Join(s.home, "run", ".dynos", "*", "disk.img"))
	if len(imgs) != 1 {
		t.Fatalf("disk images of the running dyno: %v", imgs)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(imgs[0], &st); err != nil || st.Blocks*512 > 65<<20 {
		t.Errorf("the dyno's disk takes %d bytes of the host's (%v), want at most 64 MiB", st.Blocks*512, err)
	}
	var after syscall.Statfs_t
	if err := syscall.Statfs(s.home, &after); err != nil {
		t.Fatal(err)
	}
	// Other processes of the machine write too: only a loss near what the
	// dyno tried to write (1.2 GB) would mean the quota did not hold.
	if lost := (int64(before.Bavail) - int64(after.Bavail)) * before.Bsize; lost > 400<<20 {
		t.Errorf("the host lost %d MiB of free space while the dyno was held to 64 MiB", lost>>20)
	}
}
