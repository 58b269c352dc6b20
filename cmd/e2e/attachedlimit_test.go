package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// oneoffCommand is what the attached one-offs of these tests run: a
// command line no other test's processes have, so that a leftover is
// found by it.
const oneoffCommand = "sleep 7919.25"

// attachedRun is a one-off dyno attached to a client that the test holds
// open (its standard input never ends) until it kills it.
type attachedRun struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// upLine is the line a client prints once its dyno is up.
var upLine = regexp.MustCompile(`Running ` + regexp.QuoteMeta(oneoffCommand) + ` on ⬢ shared\.\.\. up, (run\.\d+)\r?\n`)

// startAttached starts c as an attached client, killed when the test
// ends.
func startAttached(t *testing.T, c *exec.Cmd) *attachedRun {
	t.Helper()
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &attachedRun{cmd: c, out: &syncBuffer{}}
	c.Stdout, c.Stderr = r.out, r.out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait(); in.Close() })
	return r
}

// sshAttached runs oneoffCommand over `ssh -tt KEY ... run` to port.
func sshAttached(t *testing.T, key, port string) *attachedRun {
	t.Helper()
	return startAttached(t, exec.Command("ssh", "-tt", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-p", port, "git@127.0.0.1",
		"run", "-a", "shared", oneoffCommand))
}

// name waits for the dyno to be up and returns its name.
func (r *attachedRun) name(t *testing.T) string {
	t.Helper()
	var m []string
	waitFor(t, 60*time.Second, "an attached one-off up", func() bool {
		m = upLine.FindStringSubmatch(r.out.String())
		return m != nil
	}, func() string { return "\nclient output:\n" + r.out.String() })
	return m[1]
}

// wait waits for the client to exit on its own and returns its status.
func (r *attachedRun) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		return exitCode(err)
	case <-time.After(30 * time.Second):
		t.Fatalf("the client did not exit:\n%s", r.out.String())
		return -1
	}
}

// kill ends the client with SIGKILL: it closes nothing itself.
func (r *attachedRun) kill() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// oneoffs returns the names of the app's one-off dynos in ps.
func oneoffs(t *testing.T, s *server, app string) []string {
	t.Helper()
	var names []string
	for _, d := range s.dynos(t, app) {
		if strings.HasPrefix(d.Name, "run.") {
			names = append(names, d.Name)
		}
	}
	return names
}

// waitGone waits until ps no longer lists the one-off name.
func waitGone(t *testing.T, s *server, name string, within time.Duration) {
	t.Helper()
	waitFor(t, within, name+" gone from ps", func() bool {
		for _, n := range oneoffs(t, s, "shared") {
			if n == name {
				return false
			}
		}
		return true
	}, func() string { return "\nserver output:\n" + s.out.String() })
}

// processesRunning counts the host's processes whose command line is
// oneoffCommand's.
func processesRunning(t *testing.T) int {
	t.Helper()
	want := strings.ReplaceAll(oneoffCommand, " ", "\x00") + "\x00"
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, p := range cmdlines {
		if b, err := os.ReadFile(p); err == nil && string(b) == want {
			n++
		}
	}
	return n
}

// TestAttachedPerUser: with --max-attached-per-user 2 a member has at
// most two attached one-off dynos at once, whichever door they come
// through: the third is refused before any dyno starts, over SSH, over
// the API's upgraded `hako run` and the heroku CLI's rendezvous (429,
// rate_limit), and no third dyno appears. A client killed with SIGKILL,
// a rendezvous run to its end, give their places back. Another member's
// places are their own; the administrator has no bound. A client whose
// network goes silent (no FIN: a proxy that stops forwarding) is cut off
// by the server's SSH keepalives within --client-alive-interval × 4 and
// its dyno stopped, while silent but live clients stay. Nothing is left
// running at the end.
func TestAttachedPerUser(t *testing.T) {
	need(t, "python3")
	const interval = 2 * time.Second
	c := newClass(t, "--max-attached-per-user", "2", "--client-alive-interval", interval.String(), "--stop-grace", "1s")
	s := c.s
	if out, err := s.push(repo(t, "procfile-app"), c.keys["owner"], "shared", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	owner := strings.TrimSpace(c.must(t, "owner", "auth:tokens:create", "-s", "-d", "attached"))
	const refused = "Cannot run more than 2 attached one-off dynos at once: end one (exit it, or find it with `ps` and stop it with `ps:stop run.N`) and try again, or ask an administrator to raise --max-attached-per-user."
	started := func() int {
		return strings.Count(s.out.String(), "Starting process with command `"+oneoffCommand+"` by user owner@example.test\n")
	}

	first, second := sshAttached(t, c.keys["owner"], s.sshPort), sshAttached(t, c.keys["owner"], s.sshPort)
	firstName, secondName := first.name(t), second.name(t)
	if got := oneoffs(t, s, "shared"); len(got) != 2 {
		t.Fatalf("one-offs in ps: %v, want 2", got)
	}

	// The third is refused through each door, and nothing starts.
	out, err := c.ssh("owner", "run", "-a", "shared", oneoffCommand)
	if exitCode(err) != 1 || !hasLine(out, " ▸    "+refused) {
		t.Errorf("a third attached one-off over SSH: %v\n%s", err, out)
	}
	cli := exec.Command(bin, "run", "-a", "shared", "--no-tty", oneoffCommand)
	cli.Env = append(os.Environ(), "HAKO_API_URL=http://127.0.0.1:"+s.apiPort, "HAKO_API_TOKEN="+owner)
	if out, err := cli.CombinedOutput(); exitCode(err) != 1 || !hasLine(string(out), " ▸    "+refused) {
		t.Errorf("a third attached one-off through hako run: %v\n%s", err, out)
	}
	rdv := func(token string) (int, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"command": "echo rdv-done", "attach": true})
		return answer(s.apiCall(t, context.Background(), token, "POST", "/apps/shared/dynos", string(body)))
	}
	if code, body := rdv(owner); code != http.StatusTooManyRequests || apiError(body) != "rate_limit: "+refused {
		t.Errorf("a third attached one-off through the rendezvous: %d %s, want 429", code, body)
	}
	if got := oneoffs(t, s, "shared"); len(got) != 2 || started() != 2 {
		t.Fatalf("after the refusals: one-offs %v, %d started; want 2 and 2\n%s", got, started(), s.out.String())
	}

	// Another member is not bound by the owner's count; the
	// administrator is not bound at all (rendezvous places are held from
	// the request on, so three waiting ones show it).
	collab := sshAttached(t, c.keys["collab"], s.sshPort)
	collabName := collab.name(t)
	var waiting []string
	for i := range 3 {
		var d herokuDyno
		if code, body := rdv(s.token(t)); code != http.StatusCreated || json.Unmarshal([]byte(body), &d) != nil || d.AttachURL == nil {
			t.Fatalf("the administrator's attached one-off %d: %d %s", i+1, code, body)
		}
		waiting = append(waiting, *d.AttachURL)
	}
	for _, url := range waiting {
		if _, rest := rendezvous(t, s.roots(t), url, "\x04"); !hasLine(rest, "rdv-done") {
			t.Errorf("the administrator's rendezvous: %q", rest)
		}
	}

	// A client killed with SIGKILL gives its place back once its dyno
	// stopped.
	first.kill()
	waitGone(t, s, firstName, 30*time.Second)
	// A rendezvous holds a place while it waits for its client...
	var d herokuDyno
	if code, body := rdv(owner); code != http.StatusCreated || json.Unmarshal([]byte(body), &d) != nil || d.AttachURL == nil {
		t.Fatalf("an attached one-off through the rendezvous after one ended: %d %s", code, body)
	}
	if out, err := c.ssh("owner", "run", "-a", "shared", oneoffCommand); exitCode(err) != 1 || !hasLine(out, " ▸    "+refused) {
		t.Errorf("an attached one-off while a rendezvous waits: %v\n%s", err, out)
	}
	// ...and until its dyno has run.
	if _, rest := rendezvous(t, s.roots(t), *d.AttachURL, "\x04"); !hasLine(rest, "rdv-done") {
		t.Errorf("the rendezvous' output: %q", rest)
	}

	// A client behind a network that goes silent: no answer to the
	// server's keepalives, no FIN either.
	p := newStallProxy(t, "127.0.0.1:"+s.sshPort)
	silent := sshAttached(t, c.keys["owner"], p.port)
	silentName := silent.name(t)
	p.stall()
	stalled := time.Now()
	// Cut off between 2 and 4 intervals after the stall (the last answer
	// came at most one before it), and stopped within the stop grace.
	waitGone(t, s, silentName, 4*interval+15*time.Second)
	t.Logf("a silent client's dyno stopped %v after its network went silent (--client-alive-interval %v)", time.Since(stalled).Round(100*time.Millisecond), interval)
	if !hasLineMatch(s.out.String(), `.*ssh: closing the connection of owner@example\.test from 127\.0\.0\.1:\d+: no answer to 3 keepalives in 6s`) {
		t.Errorf("no log line of the cut-off connection:\n%s", s.out.String())
	}
	// Live clients, as silent but answering the keepalives, stayed all
	// along; the cut-off one's place is free again.
	again := sshAttached(t, c.keys["owner"], s.sshPort)
	againName := again.name(t)
	if got := oneoffs(t, s, "shared"); !contains(got, secondName) || !contains(got, collabName) || len(got) != 3 {
		t.Errorf("one-offs after a silent client was cut off: %v, want %s, %s, %s", got, secondName, collabName, againName)
	}

	// ps:stop ends an attached one-off, and its client.
	if out := c.must(t, "owner", "ps:stop", "-a", "shared", againName); !hasLine(out, "Stopping "+againName+" dyno on ⬢ shared... done") {
		t.Errorf("ps:stop %s:\n%s", againName, out)
	}
	waitGone(t, s, againName, 30*time.Second)
	if code := again.wait(t); code != 143 || strings.Contains(again.out.String(), " ▸ ") {
		t.Errorf("the client of a stopped one-off exited with %d, want 143 and no error:\n%s", code, again.out.String())
	}

	// Nothing is left once the clients are gone.
	for _, r := range []*attachedRun{second, silent, again, collab} {
		r.kill()
	}
	waitFor(t, 30*time.Second, "no one-off left", func() bool {
		return len(oneoffs(t, s, "shared")) == 0 && processesRunning(t) == 0
	}, func() string { return "\nserver output:\n" + s.out.String() })
}

// roots trusts the server's local CA.
func (s *server) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(s.caFile(t))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("ca:path holds no certificate")
	}
	return roots
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// stallProxy forwards its port to a target until stall; from then on it
// forwards nothing either way and closes nothing: to both ends the
// network went silent, with no FIN and no RST.
type stallProxy struct {
	port    string
	stalled chan struct{}
	once    sync.Once
	// upstream gets the local port of each connection to the target.
	upstream chan string
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{port: portOf(t, l.Addr().String()), stalled: make(chan struct{}), upstream: make(chan string, 16)}
	ended := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		close(ended)
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			select {
			case <-p.stalled:
				<-ended
				return
			default:
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					_ = dst.(*net.TCPConn).CloseWrite()
				}
				return
			}
		}
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			select {
			case p.upstream <- portOf(t, up.LocalAddr().String()):
			default:
			}
			go pipe(up, c)
			go pipe(c, up)
		}
	}()
	return p
}

func (p *stallProxy) stall() { p.once.Do(func() { close(p.stalled) }) }

// TestAttachedAPIClientSilent: a one-off attached through the API, by
// `hako run` (an upgraded connection) or as the heroku CLI does (the
// rendezvous), whose network goes silent (every packet between the
// server and its client dropped: no FIN, no RST, the client alive) is cut
// off by the listeners' TCP keepalives within about
// 4 × --client-alive-interval and its dyno stopped, where Go's default
// keepalives would take 150 s.
func TestAttachedAPIClientSilent(t *testing.T) {
	needRootE2E(t)
	need(t, "python3", "nft")
	const interval = time.Second
	s := startServer(t, "--client-alive-interval", interval.String(), "--stop-grace", "1s")
	s.hako(t, "apps:create", "shared")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "shared", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	// upstream is the port of the proxy's connection to the server.
	upstream := func(t *testing.T, p *stallProxy) string {
		t.Helper()
		select {
		case port := <-p.upstream:
			return port
		case <-time.After(10 * time.Second):
			t.Fatal("no connection through the proxy")
			return ""
		}
	}
	// cutOff drops the packets between the server's port and the
	// proxy's and waits for the dyno name to stop.
	cutOff := func(t *testing.T, serverPort, proxyPort, name string) {
		t.Helper()
		dropBetween(t, serverPort, proxyPort)
		dropped := time.Now()
		waitGone(t, s, name, 4*interval+15*time.Second)
		t.Logf("%s stopped %v after its client's network went silent (--client-alive-interval %v)", name, time.Since(dropped).Round(100*time.Millisecond), interval)
	}

	t.Run("HakoRun", func(t *testing.T) {
		// The client reaches the API through a proxy, whose connection
		// to the server has a port of its own to drop the packets of.
		p := newStallProxy(t, "127.0.0.1:"+s.apiPort)
		cli := exec.Command(bin, "run", "-a", "shared", "--no-tty", oneoffCommand)
		cli.Env = append(os.Environ(), "HAKO_API_URL=http://127.0.0.1:"+p.port, "HAKO_API_TOKEN="+s.token(t))
		run := startAttached(t, cli)
		name := run.name(t)
		cutOff(t, s.apiPort, upstream(t, p), name)
		// Nothing but the keepalives ended it: the client still runs.
		if err := run.cmd.Process.Signal(syscall.Signal(0)); err != nil {
			t.Errorf("the client exited: %v\n%s", err, run.out.String())
		}
		run.kill()
	})

	t.Run("Rendezvous", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"command": oneoffCommand, "attach": true, "force_no_tty": true})
		var d herokuDyno
		if code, out := answer(s.apiCall(t, context.Background(), s.token(t), "POST", "/apps/shared/dynos", string(body))); code != http.StatusCreated || json.Unmarshal([]byte(out), &d) != nil || d.AttachURL == nil {
			t.Fatalf("an attached one-off for the rendezvous: %d %s", code, out)
		}
		m := regexp.MustCompile(`^rendezvous://127\.0\.0\.1:(\d+)/([0-9a-f]{64})$`).FindStringSubmatch(*d.AttachURL)
		if m == nil {
			t.Fatalf("attach_url %q", *d.AttachURL)
		}
		p := newStallProxy(t, "127.0.0.1:"+m[1])
		conn, err := tls.Dial("tcp", "127.0.0.1:"+p.port, &tls.Config{RootCAs: s.roots(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := fmt.Fprintf(conn, "%s\r\n", m[2]); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		if line, err := bufio.NewReader(conn).ReadString('\n'); line != "rendezvous\r\n" {
			t.Fatalf("the rendezvous' first line: %q, %v", line, err)
		}
		waitFor(t, 30*time.Second, d.Name+" up", func() bool {
			for _, ds := range s.dynos(t, "shared") {
				if ds.Name == d.Name && ds.State == "up" {
					return true
				}
			}
			return false
		})
		cutOff(t, m[1], upstream(t, p), d.Name)
	})

	waitFor(t, 30*time.Second, "no one-off left", func() bool {
		return len(oneoffs(t, s, "shared")) == 0 && processesRunning(t) == 0
	})
}

// dropTables numbers the nftables tables of dropBetween.
var dropTables atomic.Int32

// dropBetween drops every packet between the local TCP ports a and b
// until the test ends, as a network gone silent would.
func dropBetween(t *testing.T, a, b string) {
	t.Helper()
	table := fmt.Sprintf("hako_e2e_silent_%d_%d", os.Getpid(), dropTables.Add(1))
	rules := fmt.Sprintf(`table inet %s {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp sport %s tcp dport %s drop
		tcp sport %s tcp dport %s drop
	}
}
`, table, a, b, b, a)
	nft := exec.Command("nft", "-f", "-")
	nft.Stdin = strings.NewReader(rules)
	if out, err := nft.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("nft", "delete", "table", "inet", table).CombinedOutput(); err != nil {
			t.Errorf("nft delete table %s: %v\n%s", table, err, out)
		}
	})
}
