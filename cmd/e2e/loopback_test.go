package e2e

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// dnsq.py asks a nameserver for a name's A record, over UDP or TCP, and
// prints "NAME ADDRESS", "NAME NXDOMAIN" or "NAME unreachable": a
// resolver of the dyno's own, aimed at a given server, as an app's DNS
// library would be.
const dnsq = `import random, socket, struct, sys
proto, server, name = sys.argv[1], sys.argv[2], sys.argv[3]
qid = random.randrange(65536)
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
try:
    if proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        s.sendto(q, (server, 53))
        a = s.recv(65535)
    else:
        s = socket.create_connection((server, 53), timeout=3)
        s.sendall(struct.pack(">H", len(q)) + q)
        n = struct.unpack(">H", s.recv(2))[0]
        a = b""
        while len(a) < n:
            a += s.recv(n - len(a))
except OSError:
    print(name, "unreachable")
    sys.exit(0)
rid, flags, _, an = struct.unpack(">HHHH", a[:8])
if rid != qid or flags & 0xf == 3 or an == 0:
    print(name, "NXDOMAIN")
else:
    print(name, ".".join(str(b) for b in a[-4:]))
`

// fakeResolver answers DNS on addr:53, UDP and TCP, as the host's
// loopback resolver would: probe.hako.test is 192.0.2.7, every other
// name does not exist. It counts the queries it answered.
func fakeResolver(t *testing.T, addr string) *atomic.Int64 {
	t.Helper()
	answered := &atomic.Int64{}
	pc, err := net.ListenPacket("udp4", net.JoinHostPort(addr, "53"))
	if err != nil {
		t.Fatalf("the fake resolver: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	l, err := net.Listen("tcp4", net.JoinHostPort(addr, "53"))
	if err != nil {
		t.Fatalf("the fake resolver: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if a := dnsAnswer(buf[:n]); a != nil {
				answered.Add(1)
				pc.WriteTo(a, from)
			}
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var n uint16
				if binary.Read(c, binary.BigEndian, &n) != nil {
					return
				}
				q := make([]byte, n)
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				if a := dnsAnswer(q); a != nil {
					answered.Add(1)
					binary.Write(c, binary.BigEndian, uint16(len(a)))
					c.Write(a)
				}
			}()
		}
	}()
	return answered
}

// dnsAnswer answers a query of one question: an A record for
// probe.hako.test, NXDOMAIN otherwise; nil for what is not a query.
func dnsAnswer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	end := 12
	var labels []string
	for end < len(q) && q[end] != 0 {
		n := int(q[end])
		if end+1+n > len(q) {
			return nil
		}
		labels = append(labels, string(q[end+1:end+1+n]))
		end += 1 + n
	}
	end += 5 // the root label, type and class
	if end > len(q) {
		return nil
	}
	a := append([]byte(nil), q[:end]...)
	if strings.Join(labels, ".") != "probe.hako.test" {
		binary.BigEndian.PutUint16(a[2:4], 0x8183) // response, NXDOMAIN
		return a
	}
	binary.BigEndian.PutUint16(a[2:4], 0x8180)
	binary.BigEndian.PutUint16(a[6:8], 1)
	return append(a, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7)
}

// loopbackListener listens on addr (a loopback address) and counts the
// connections it accepts: a service of the host that dynos must not
// reach.
func loopbackListener(t *testing.T, addr string) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp4", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil {
				accepted.Add(1)
				c.Close()
			}
		}
	}()
	return l.Addr().String(), accepted
}

// TestDynoDNS gives the server a resolver configuration whose nameserver
// is on the host's loopback, as systemd-resolved's 127.0.0.53 is, with a
// fake resolver the test runs there: a one-off dyno and a build step
// resolve a name through it over UDP and TCP, while another service on
// the same loopback address, and the relay's own address for any other
// port, stay out of their reach.
func TestDynoDNS(t *testing.T) {
	needRootE2E(t)
	need(t, "python3")
	const nsAddr = "127.0.0.153"
	answered := fakeResolver(t, nsAddr)
	other, accepted := loopbackListener(t, nsAddr)
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("# as systemd-resolved writes it\nnameserver "+nsAddr+"\noptions edns0 trust-ad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--resolv-conf", conf)

	// A buildpack installed on the server resolves during the build.
	pack := filepath.Join(s.home, "buildpacks", "resolver")
	for name, body := range map[string]string{
		"bin/detect":  "#!/bin/sh\necho resolver\n",
		"bin/compile": "#!/bin/sh\nfor p in udp tcp; do printf '       build %s: ' $p; python3 \"$(dirname \"$0\")/../dnsq.py\" $p " + nsAddr + " probe.hako.test; done\n",
		"dnsq.py":     dnsq,
	} {
		p := filepath.Join(pack, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	app := "resolves"
	s.hako(t, "apps:create", app)
	src := commitFiles(t, t.TempDir(), map[string]string{
		"Procfile":    "web: python3 -m http.server $PORT\n",
		"dnsq.py":     dnsq,
		".buildpacks": "resolver\nprocfile\n",
	}, "resolver app")
	out, err := s.push(src, s.key, app, "main")
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	for _, p := range []string{"udp", "tcp"} {
		if !hasLineMatch(out, `remote:\s+build `+p+`: probe\.hako\.test 192\.0\.2\.7\s*`) {
			t.Errorf("the build step did not resolve over %s through the host's loopback resolver:\n%s", p, out)
		}
	}

	gw := s.gateway()
	script := strings.Join([]string{
		"python3 dnsq.py udp " + nsAddr + " probe.hako.test",
		"python3 dnsq.py tcp " + nsAddr + " probe.hako.test",
		"python3 dnsq.py udp " + nsAddr + " missing.hako.test",
		// Hostile: the relay is for port 53 of that nameserver only.
		"python3 -c 'import socket,sys\ntry:\n  socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close(); print(\"other open\")\nexcept OSError: print(\"other closed\")' " + strings.Replace(other, ":", " ", 1),
		"python3 dnsq.py udp 127.0.0.1 probe.hako.test",
		"python3 dnsq.py udp " + gw + " probe.hako.test",
	}, "\n")
	got := s.hako(t, "run", "-a", app, "--no-tty", script)
	for _, want := range []string{
		"probe.hako.test 192.0.2.7", "missing.hako.test NXDOMAIN", "other closed",
	} {
		if !hasLine(got, want) {
			t.Errorf("one-off dyno: want the line %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "probe.hako.test 192.0.2.7\n"); n != 2 {
		t.Errorf("one-off dyno: want the name resolved over UDP and TCP through %s only, got it %d times:\n%s", nsAddr, n, got)
	}
	if n := strings.Count(got, "probe.hako.test unreachable\n"); n != 2 {
		t.Errorf("one-off dyno: its own 127.0.0.1 and the gateway's port 53 must not answer:\n%s", got)
	}
	if answered.Load() < 5 {
		t.Errorf("the fake resolver answered %d queries, want the build's two and the dyno's three", answered.Load())
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("another service on the resolver's loopback address accepted %d connections from the dyno", n)
	}
}

// TestAddonURLsAgree checks that what `hako config` shows of an add-on is
// what a dyno gets, and that the same URL works from both sides: real
// psql and redis-cli in a one-off dyno and on the host. The dyno's own
// loopback stays its own: a server it starts on 127.0.0.1 answers it.
func TestAddonURLsAgree(t *testing.T) {
	needRootE2E(t)
	need(t, "python3", "psql", "redis-cli")
	s := startServer(t)
	app := "agrees"
	s.hako(t, "apps:create", app)
	if out, err := s.push(repo(t, "procfile-app"), s.key, app, "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.hako(t, "addons:create", "heroku-postgresql", "-a", app)
	s.hako(t, "addons:create", "heroku-redis", "-a", app)
	for _, k := range []string{"DATABASE_URL", "REDIS_URL"} {
		shown := strings.TrimSpace(s.hako(t, "config:get", k, "-a", app))
		out := s.hako(t, "run", "-a", app, "--no-tty", "--", "printenv", k)
		// After the "Running … on ⬢ APP... up, run.N" line.
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := lines[len(lines)-1]; shown == "" || got != shown || len(lines) != 2 {
			t.Errorf("%s: `hako config:get` shows %q, the dyno gets:\n%s", k, shown, out)
		}
	}
	dbURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", app))
	redisURL := strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", app))
	script := `psql "$DATABASE_URL" -w -tAc 'select 6 * 7'
redis-cli -u "$REDIS_URL" --no-auth-warning ping
python3 -c '
import socket, threading
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
threading.Thread(target=lambda: l.accept()[0].sendall(b"own loopback\n"), daemon=True).start()
print(socket.create_connection(l.getsockname(), timeout=2).recv(100).decode().strip())'
`
	out := s.hako(t, "run", "-a", app, "--no-tty", script)
	for _, want := range []string{"42", "PONG", "own loopback"} {
		if !hasLine(out, want) {
			t.Errorf("one-off dyno: want the line %q:\n%s", want, out)
		}
	}
	if got, err := runTool("psql", dbURL, "-w", "-tAc", "select 6 * 7"); err != nil || strings.TrimSpace(got) != "42" {
		t.Errorf("psql on the host with the shown URL: %v\n%s", err, got)
	}
	if got, err := runTool("redis-cli", "-u", redisURL, "--no-auth-warning", "ping"); err != nil || strings.TrimSpace(got) != "PONG" {
		t.Errorf("redis-cli on the host with the shown URL: %v\n%s", err, got)
	}
}

// runTool runs a tool on the host and returns its combined output.
func runTool(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
