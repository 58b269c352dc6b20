// Package e2e runs the real hako binary end to end: a server on free
// ports, the real git over the real OpenSSH client, HTTP through the
// router over TCP.
package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	// The binary under test is built from this module by TestMain; the
	// import ties this package's test cache to the code it builds.
	_ "hako/cmd"
	"hako/engine/tether"
)

// bin is the hako binary built once for every test.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hako-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "hako")
	args := []string{"build", "-o", bin}
	if os.Getenv("HAKO_E2E_RACE") != "" {
		// The server itself under the race detector: slower, for checks.
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "hako")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hako:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need skips a test when a tool is missing, and fails it under CI, where
// .ci/run installs every tool the tests use.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI but missing", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

// server is a running `hako server` with its own HAKO_HOME.
type server struct {
	t                          *testing.T
	home                       string
	sshPort, httpPort, apiPort string
	cmd                        *exec.Cmd
	out                        *syncBuffer
	key                        string
	done                       chan struct{}

	// httpsPort is the router's HTTPS port, rendezvousPort where the
	// heroku CLI attaches to one-off dynos.
	httpsPort, rendezvousPort string
	// flags are added to `hako server` (timings for tests).
	flags []string
	// wrap, when set, runs the server through this command line, which
	// ends by exec'ing its arguments (sh -c 'ulimit -n 4096 && exec "$0" "$@"',
	// setpriv ... --); the server then starts in its home.
	wrap []string
	// env is added to the server's environment.
	env []string
	// subnet is the server's --dyno-subnet, reserved for it (see
	// reserveSubnet).
	subnet string
}

// syncBuffer collects the server's output from its own goroutine while
// tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// startServer starts hako with a fresh HAKO_HOME and a registered key, and
// stops it (reaping every dyno) when the test ends.
func startServer(t *testing.T, flags ...string) *server {
	t.Helper()
	return startWrappedServer(t, nil, flags...)
}

// startWrappedServer is startServer with the server run through wrap.
func startWrappedServer(t *testing.T, wrap []string, flags ...string) *server {
	t.Helper()
	return startServerWith(t, &server{home: t.TempDir(), flags: flags, wrap: wrap})
}

// startServerWith is startServer for a server the caller set up: its
// home, flags, wrap and env.
func startServerWith(t *testing.T, s *server) *server {
	t.Helper()
	need(t, "git", "ssh", "ssh-keygen")
	s.t, s.sshPort, s.httpPort, s.apiPort = t, freePort(t), freePort(t), freePort(t)
	s.httpsPort, s.rendezvousPort = freePort(t), freePort(t)
	if s.subnet == "" {
		s.subnet = reserveSubnet(t)
	}
	s.out, s.done = &syncBuffer{}, make(chan struct{})
	s.start()
	t.Cleanup(s.removeAddonData)
	t.Cleanup(s.stop)
	s.key = s.keygen("owner")
	s.hako(t, "keys:add", s.key+".pub")
	return s
}

func (s *server) start() {
	t := s.t
	s.spawn()
	waitFor(t, 20*time.Second, "server to listen", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+s.sshPort)
		if err == nil {
			c.Close()
			_, err = os.Stat(filepath.Join(s.home, "server.json"))
		}
		return err == nil
	})
}

// spawn starts the server process and returns without waiting for it.
func (s *server) spawn() {
	s.done = make(chan struct{})
	args := append([]string{bin, "server", "--ssh-addr", "127.0.0.1:" + s.sshPort, "--http-addr", "127.0.0.1:" + s.httpPort, "--api-addr", "127.0.0.1:" + s.apiPort,
		"--https-addr", "127.0.0.1:" + s.httpsPort, "--rendezvous-addr", "127.0.0.1:" + s.rendezvousPort}, s.flags...)
	if s.subnet != "" {
		args = append(args, "--dyno-subnet", s.subnet)
	}
	args = append(append([]string(nil), s.wrap...), args...)
	s.cmd = exec.Command(args[0], args[1:]...)
	// No warm-up of the Go standard library (each test has its own home):
	// the tests that build Go compile it in their first build, as before.
	s.cmd.Env = append(append(os.Environ(), "HAKO_HOME="+s.home, "HAKO_WARM_GO=false"), s.env...)
	if s.wrap != nil {
		s.cmd.Dir = s.home
	}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	// The server dies with the test binary, even when a panic or the
	// test timeout ends it before any cleanup runs; its dynos and add-on
	// servers die with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd, done := s.cmd, s.done
	if err := tether.Start(cmd, nil, func() { _ = cmd.Wait(); close(done) }); err != nil {
		s.t.Fatal(err)
	}
}

// stop sends SIGINT and waits for a clean exit; whatever is left of the
// process group after that is killed so no test leaves processes behind.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
		if code := s.cmd.ProcessState.ExitCode(); code != 0 {
			s.t.Errorf("server exited with status %d after SIGINT, want 0; output:\n%s", code, s.out.String())
		}
	case <-time.After(45 * time.Second):
		s.t.Errorf("server did not stop within 45s after SIGINT; output:\n%s", s.out.String())
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// removeAddonData removes what the add-on servers of this HAKO_HOME kept
// outside it: where the home's parents are closed to their unprivileged
// user, PostgreSQL and Redis keep their data under /var/lib, named by a
// hash of their directory.
func (s *server) removeAddonData() {
	for service, base := range map[string]string{"postgres": "/var/lib/hako-postgres", "redis": "/var/lib/hako-redis"} {
		sum := sha256.Sum256([]byte(filepath.Join(s.home, "addons", service)))
		_ = os.RemoveAll(filepath.Join(base, hex.EncodeToString(sum[:])[:16]))
	}
}

func (s *server) keygen(name string) string {
	path := filepath.Join(s.t.TempDir(), name)
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput()
	if err != nil {
		s.t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	return path
}

// run runs the hako CLI against this server and returns its combined
// output and error.
func (s *server) run(args ...string) (string, error) {
	c := exec.Command(bin, args...)
	c.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	out, err := c.CombinedOutput()
	return string(out), err
}

// hako runs the CLI and fails the test if it fails.
func (s *server) hako(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.run(args...)
	if err != nil {
		t.Fatalf("hako %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *server) sshCommand(key string) string {
	return fmt.Sprintf("ssh -i %s -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes", key)
}

// ssh runs a command over SSH with key and returns output and error.
func (s *server) ssh(key string, stdin io.Reader, args ...string) (string, error) {
	full := append([]string{"-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-p", s.sshPort, "git@127.0.0.1"}, args...)
	c := exec.Command("ssh", full...)
	c.Stdin = stdin
	out, err := c.CombinedOutput()
	return string(out), err
}

// repo copies a testdata app into a fresh git repository with one commit.
func repo(t *testing.T, app string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(testdataDir(), "apps", app)
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", app, err)
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "first")
	return dir
}

func testdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata")
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	c := exec.Command("git", append([]string{"-c", "user.email=e2e@example.test", "-c", "user.name=e2e", "-c", "commit.gpgsign=false"}, args...)...)
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// push runs `git push` of dir to app over SSH with key.
func (s *server) push(dir, key, app string, args ...string) (string, error) {
	url := fmt.Sprintf("ssh://git@127.0.0.1:%s/%s.git", s.sshPort, app)
	c := exec.Command("git", append([]string{"push", url}, args...)...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GIT_SSH_COMMAND="+s.sshCommand(key))
	out, err := c.CombinedOutput()
	return string(out), err
}

// get fetches path of app through the router.
func (s *server) get(app, path string) (int, string, error) {
	return s.getHost(app+".localhost", path)
}

// getHost fetches path through the router with the given Host.
func (s *server) getHost(host, path string) (int, string, error) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+s.httpPort+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// waitBody polls the router until app answers 200 with want in the body.
func (s *server) waitBody(t *testing.T, app, want string) {
	t.Helper()
	var last string
	waitFor(t, 30*time.Second, app+" to answer "+want, func() bool {
		code, body, err := s.get(app, "/")
		last = fmt.Sprintf("%d %q %v", code, body, err)
		return code == 200 && strings.Contains(body, want)
	}, func() string { return last + "\nserver output:\n" + s.out.String() })
}

// waitPath polls the router until app answers path with exactly want.
func (s *server) waitPath(t *testing.T, app, path, want string) {
	t.Helper()
	var last string
	waitFor(t, 30*time.Second, app+path+" to answer "+want, func() bool {
		code, body, err := s.get(app, path)
		last = fmt.Sprintf("%d %q %v", code, body, err)
		return code == 200 && body == want
	}, func() string { return last + "\nserver output:\n" + s.out.String() })
}

// dynos returns the app's dynos as the API reports them.
func (s *server) dynos(t *testing.T, app string) []dynoStatus {
	t.Helper()
	var ds []dynoStatus
	if err := json.Unmarshal([]byte(s.hako(t, "ps", "-a", app, "--json")), &ds); err != nil {
		t.Fatal(err)
	}
	return ds
}

type dynoStatus struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	PID     int    `json:"pid"`
	Release struct {
		Version int `json:"version"`
	} `json:"release"`
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool, detail ...func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			for _, f := range detail {
				msg += f()
			}
			t.Fatalf("timed out after %v waiting for %s %s", d, what, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
