package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostListener listens on every address of the host, as a service of
// the machine would, and counts the connections it accepts.
func hostListener(t *testing.T) (port string, accepted *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return portOf(t, l.Addr().String()), accepted
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDynoNetwork tries, as an app would, what its dynos can reach from
// their network namespaces: another app's web dyno, hako's API and SSH
// ports and a service of the host are out of reach of a one-off dyno and
// of the release phase and a worker, while their DATABASE_URL, REDIS_URL and a server
// outside the machine (reached through NAT) answer; a web dyno listening
// on every address is reached by the router only.
func TestDynoNetwork(t *testing.T) {
	need(t, "python3", "psql", "redis-cli")
	world := newOutside(t)
	pub := t.TempDir()
	if err := os.WriteFile(filepath.Join(pub, "hello.txt"), []byte("hello from outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	web := world.httpServer(t, pub)
	s := startServer(t)
	for _, app := range []string{"neta", "netb"} {
		s.hako(t, "apps:create", app)
		if out, err := s.push(repo(t, "net-app"), s.key, app, "main"); err != nil {
			t.Fatalf("push %s: %v\n%s", app, err, out)
		}
		s.waitBody(t, app, "net-app")
	}
	_, addrB, err := s.get("netb", "/addr")
	if err != nil {
		t.Fatal(err)
	}
	_, portB, err := s.get("netb", "/env/PORT")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := netip.ParseAddr(addrB); err != nil || !netip.MustParsePrefix(s.subnet).Contains(a) || a.String() == s.gateway() {
		t.Fatalf("netb's web dyno has address %q, want one of its own in %s", addrB, s.subnet)
	}
	dynoB := net.JoinHostPort(addrB, portB)

	// The web dyno listens on 0.0.0.0 of its namespace: the host's
	// addresses do not have it.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+portB, time.Second); err == nil {
		c.Close()
		t.Errorf("netb's web dyno answers on the host's 127.0.0.1:%s", portB)
	}

	hostPort, accepted := hostListener(t)
	gw := s.gateway()
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "neta")
	s.hako(t, "addons:create", "heroku-redis", "-a", "neta")

	probes := []struct{ target, want string }{
		{dynoB, "closed"},                          // another app's web dyno
		{"127.0.0.1:" + portB, "closed"},           // the same, where it was before namespaces
		{net.JoinHostPort(gw, hostPort), "closed"}, // a service on every host address
		{net.JoinHostPort(gw, s.apiPort), "closed"},
		{net.JoinHostPort(gw, s.sshPort), "closed"},
		{"127.0.0.1:" + s.apiPort, "closed"},
		{web, "open"}, // the outside, through NAT
	}
	var targets []string
	for _, p := range probes {
		targets = append(targets, p.target)
	}
	script := "python3 probe.py " + strings.Join(targets, " ") + `
psql "$DATABASE_URL" -w -tAc 'select 6 * 7'
redis-cli -u "$REDIS_URL" --no-auth-warning ping
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://` + web + `/hello.txt").read().decode())'
`
	out := s.hako(t, "run", "-a", "neta", "--no-tty", script)
	for _, p := range probes {
		if !hasLine(out, p.target+" "+p.want) {
			t.Errorf("one-off dyno: want the line %q:\n%s", p.target+" "+p.want, out)
		}
	}
	for _, want := range []string{"42", "PONG", "hello from outside"} {
		if !hasLine(out, want) {
			t.Errorf("one-off dyno: want the line %q (database, redis, outside):\n%s", want, out)
		}
	}

	// The release phase, a one-off dyno too, fails the release on any
	// surprise (see testdata/apps/net-app/release.py).
	expect := fmt.Sprintf("NET_EXPECT=%s=closed %s=closed %s=closed %s=open", dynoB, net.JoinHostPort(gw, hostPort), net.JoinHostPort(gw, s.apiPort), web)
	if out, err := s.run("config:set", "-a", "neta", expect); err != nil || !hasLineMatch(out, `Setting NET_EXPECT and restarting ⬢ neta\.\.\. done, v\d+`) {
		logs, _ := s.run("logs", "-a", "neta", "-n", "200")
		t.Errorf("release phase with network checks: %v\n%s\nlogs:\n%s", err, out, logs)
	}
	// A worker dyno likewise.
	s.hako(t, "ps:scale", "worker=1", "-a", "neta")
	for _, want := range []string{dynoB + " closed", net.JoinHostPort(gw, hostPort) + " closed", net.JoinHostPort(gw, s.apiPort) + " closed", web + " open"} {
		waitFor(t, 30*time.Second, "the worker to log "+want, func() bool {
			return hasLineMatch(s.hako(t, "logs", "-a", "neta", "--ps", "worker", "-n", "200"), `\S+ app\[worker\.1\]: worker: `+regexp.QuoteMeta(want))
		}, func() string { return s.hako(t, "logs", "-a", "neta", "-n", "200") })
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the host's listener accepted %d connections from dynos", n)
	}
	// The router still reaches both apps.
	s.waitBody(t, "neta", "net-app")
	s.waitBody(t, "netb", "net-app")
}

// TestBuildNetwork pushes an app whose buildpack, cloned from a git host
// outside the machine (an outside namespace), downloads a file from a
// registry there, as buildpacks install packages, and tries a service of
// the host, which it must not reach.
func TestBuildNetwork(t *testing.T) {
	need(t, "python3", "git")
	world := newOutside(t)
	pub := t.TempDir()
	if err := os.WriteFile(filepath.Join(pub, "pkg.txt"), []byte("package from the registry"), 0o644); err != nil {
		t.Fatal(err)
	}
	registry := world.httpServer(t, pub)
	hostPort, accepted := hostListener(t)
	s := startServer(t)
	gw := s.gateway()

	base := t.TempDir()
	pack := filepath.Join(base, "fetcher")
	compile := `#!/bin/sh
python3 - "$1" <<'PY'
import socket, sys, urllib.request
body = urllib.request.urlopen("http://` + registry + `/pkg.txt", timeout=10).read().decode()
open(sys.argv[1] + "/pkg.txt", "w").write(body)
print("       fetched:", body, flush=True)
try:
    socket.create_connection(("` + gw + `", ` + hostPort + `), timeout=2).close()
    print("       host service: open", flush=True)
except OSError:
    print("       host service: closed", flush=True)
PY
`
	commitFiles(t, pack, map[string]string{"bin/detect": "#!/bin/sh\necho fetcher\n", "bin/compile": compile}, "fetcher pack")
	port := freePort(t)
	daemon := world.serve(t, port, "git", "daemon", "--reuseaddr", "--export-all", "--base-path="+base, "--listen="+world.addr, "--port="+port, base)

	app := "fetched"
	s.hako(t, "apps:create", app)
	src := repo(t, "procfile-app")
	if err := os.WriteFile(filepath.Join(src, ".buildpacks"), []byte("git://"+daemon+"/fetcher\nprocfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, src, "add", "-A")
	git(t, src, "commit", "-qm", "buildpacks")
	out, err := s.push(src, s.key, app, "main")
	if err != nil || !hasLineMatch(out, `remote:\s+fetched: package from the registry\s*`) {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if !hasLineMatch(out, `remote:\s+host service: closed\s*`) || accepted.Load() != 0 {
		t.Errorf("a build step reached a service of the host (%d connections):\n%s", accepted.Load(), out)
	}
	if got := s.hako(t, "run", "-a", app, "--no-tty", "--", "cat /app/pkg.txt"); !hasLine(got, "package from the registry") {
		t.Errorf("the slug lacks what the build fetched:\n%s", got)
	}
}
