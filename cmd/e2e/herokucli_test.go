package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestHerokuCLI drives hako with the official heroku CLI (npm package
// heroku, 11.x), as a user who mirrors production on a laptop would: each
// row of cliRows runs one command with the environment the README gives,
// then checks the command's output lines and hako's state. It needs that
// CLI: HAKO_HEROKU_CLI names it (.ci/run installs it), and under CI=true a
// missing CLI fails the test.
//
//	npm install --prefix /tmp/heroku-cli heroku@11
//	HAKO_HEROKU_CLI=/tmp/heroku-cli/node_modules/.bin/heroku go test ./cmd/e2e -run HerokuCLI
//
// A row marked known names why it fails today; the test asserts that it
// still fails, so that a row which starts to pass is noticed and its mark
// removed. HAKO_CLI_RECORD=1 prints every row's output.
func TestHerokuCLI(t *testing.T) {
	cli := herokuCLI(t)
	need(t, "python3", "redis-server", "psql")
	s := startServer(t)
	h := &herokuEnv{t: t, s: s, cli: cli, home: t.TempDir()}
	h.setUp()
	rows := cliRows(h)
	passed, known, failed := 0, 0, 0
	for i, r := range rows {
		name := fmt.Sprintf("%02d %s", i+1, strings.Join(r.args, " "))
		start := time.Now()
		out, err := h.run(r)
		problem := r.check(h, out, err)
		if os.Getenv("HAKO_CLI_RECORD") != "" {
			t.Logf("%s (%v; err %v, problem %v):\n%s", name, time.Since(start).Round(time.Millisecond), err, problem, out)
		}
		switch {
		case r.known == "" && problem == nil:
			passed++
		case r.known == "":
			failed++
			t.Errorf("heroku %s: %v\n%s", name, problem, out)
		case problem == nil:
			t.Errorf("heroku %s passes now, though marked known-failing (%s): remove the mark\n%s", name, r.known, out)
		default:
			known++
		}
	}
	t.Logf("heroku CLI: %d of %d rows pass, %d known to fail, %d failed", passed, len(rows), known, failed)
}

// herokuCLI finds the CLI the test drives: HAKO_HEROKU_CLI, which CI
// always sets.
func herokuCLI(t *testing.T) string {
	t.Helper()
	cli := os.Getenv("HAKO_HEROKU_CLI")
	if cli == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("HAKO_HEROKU_CLI is required under CI but not set: .ci/run installs the heroku CLI and sets it")
		}
		t.Skip("set HAKO_HEROKU_CLI to the heroku CLI to check compatibility")
	}
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("HAKO_HEROKU_CLI: %v", err)
	}
	return cli
}

// herokuEnv is the CLI pointed at one test server, and what the rows
// share: the app they act on, the account, a git repository.
type herokuEnv struct {
	t     *testing.T
	s     *server
	cli   string
	home  string // the CLI's HOME: its cache and git config
	token string
	email string // the account's email, as the API gives it
	repo  string // a clone of the procfile app, for create and git:remote
}

// env is what the README recommends, plus a HOME of the test's own.
func (h *herokuEnv) env() []string {
	api := "https://127.0.0.1:" + h.s.apiPort
	var base []string
	for _, kv := range os.Environ() {
		// GIT_SSL_CAINFO would win over the git config that trusts the
		// local CA. CI=true makes the CLI lay its tables out otherwise
		// (narrower padding): the rows pin the layout a user's terminal
		// gets, so the CLI sees the same environment in CI as on a laptop.
		if !strings.HasPrefix(kv, "GIT_SSL_CAINFO=") && !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "CI=") {
			base = append(base, kv)
		}
	}
	// heroku on the PATH, as an installed CLI is: git runs it as its
	// credential helper (heroku git:credentials).
	return append(base,
		"PATH="+filepath.Dir(h.cli)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HEROKU_HOST="+api,
		"NODE_EXTRA_CA_CERTS="+filepath.Join(h.s.home, "ca.pem"),
		"HEROKU_API_KEY="+h.token,
		"HEROKU_DATA_HOST=127.0.0.1",
		"HEROKU_PARTICLEBOARD_URL="+api,
		"HEROKU_BUILDPACK_REGISTRY_URL="+api,
		"HEROKU_SKIP_NEW_VERSION_CHECK=true",
		// Otherwise the CLI starts `heroku update --autoupdate` in the
		// background, a process that outlives the test.
		"HEROKU_DISABLE_AUTOUPDATE=true",
		"DISABLE_TELEMETRY=true",
		"HOME="+h.home,
		"NO_COLOR=1",
	)
}

func (h *herokuEnv) setUp() {
	t, s := h.t, h.s
	token, err := os.ReadFile(filepath.Join(s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	h.token = strings.TrimSpace(string(token))
	code, body := s.api(t, "GET", "/account", "")
	m := regexp.MustCompile(`"email": "([^"]*)"`).FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("GET /account: %d %s", code, body)
	}
	h.email = m[1]
	// git trusts the local CA for the API's address, as the README says.
	gitConfig := exec.Command("git", "config", "--global", "http.https://127.0.0.1:"+s.apiPort+"/.sslCAInfo", filepath.Join(s.home, "ca.pem"))
	gitConfig.Env = h.env()
	if out, err := gitConfig.CombinedOutput(); err != nil {
		t.Fatalf("git config: %v\n%s", err, out)
	}
	s.hako(t, "apps:create", "compat")
	h.repo = repo(t, "procfile-app")
	if out, err := s.push(h.repo, s.key, "compat", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "compat", "")
}

// run runs a row's command: in the repository when it asks, on a
// pseudo-terminal when it asks, and bounded in time (a --tail row is
// ended once its lines came).
func (h *herokuEnv) run(r cliRow) (string, error) {
	timeout := 90 * time.Second
	if r.timeout != 0 {
		timeout = r.timeout
	}
	if r.before != nil {
		r.before(h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := r.args
	if r.argf != nil {
		args = r.argf(h)
	}
	c := exec.CommandContext(ctx, h.cli, args...)
	if r.git {
		c = exec.CommandContext(ctx, args[0], args[1:]...)
	}
	c.Env = h.env()
	c.Dir = h.home
	if r.inRepo {
		c.Dir = h.repo
	}
	c.WaitDelay = 5 * time.Second
	var out lockedBuffer
	if r.tty {
		f, err := pty.StartWithSize(c, &pty.Winsize{Rows: 40, Cols: 120})
		if err != nil {
			return "", err
		}
		defer f.Close()
		if r.stdin != "" {
			_, _ = io.WriteString(f, r.stdin)
		}
		done := make(chan struct{})
		go func() { _, _ = io.Copy(&out, f); close(done) }()
		err = c.Wait()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		return strings.ReplaceAll(out.String(), "\r\n", "\n"), err
	}
	c.Stdin = strings.NewReader(r.stdin)
	c.Stdout, c.Stderr = &out, &out
	if !r.tail {
		err := c.Run()
		return out.String(), err
	}
	if err := c.Start(); err != nil {
		return "", err
	}
	if r.during != nil {
		waitFor(h.t, 15*time.Second, "the tail to start", func() bool { return len(outLines(out.String())) > 0 })
		r.during(h)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && holdsLines(out.String(), r.lines) != nil {
		time.Sleep(100 * time.Millisecond)
	}
	_ = c.Process.Kill()
	_ = c.Wait()
	return out.String(), nil
}

// lockedBuffer collects a command's output from its own goroutines.
type lockedBuffer struct{ syncBuffer }

// cliRow is one CLI command and what must follow from it.
type cliRow struct {
	args []string
	// argf, when set, gives the arguments at run time (names hako chose).
	argf  func(h *herokuEnv) []string
	stdin string
	// lines must each be a whole line of the output (trailing spaces
	// aside), in this order; a line starting with "~" is a regular
	// expression the whole line must match.
	lines []string
	// absent lines must be no line of the output.
	absent []string
	// fails says the command must exit non-zero.
	fails bool
	// state checks hako after the command, through its API or CLI.
	state func(h *herokuEnv) error
	// inRepo runs the command in the app's git repository; git runs git
	// rather than the CLI (with the CLI's environment and credential
	// helper); tty runs it on a pseudo-terminal; tail leaves it running
	// until its lines came, calling during once it printed its first.
	inRepo, git, tty, tail bool
	during                 func(h *herokuEnv)
	// before prepares hako for the row, with hako's own CLI.
	before func(h *herokuEnv)
	// timeout bounds the command (90 s unless set).
	timeout time.Duration
	// known is why the row fails today; empty when it must pass.
	known string
}

// check says what is wrong with a row's outcome, or nil.
func (r cliRow) check(h *herokuEnv, out string, err error) error {
	if r.fails != (err != nil) {
		return fmt.Errorf("exit: %v, want failure %v", err, r.fails)
	}
	if e := holdsLines(out, r.lines); e != nil {
		return e
	}
	for _, a := range r.absent {
		if holdsLines(out, []string{a}) == nil {
			return fmt.Errorf("line %q should not be there", a)
		}
	}
	if r.state != nil {
		return r.state(h)
	}
	return nil
}

// outLines splits output into lines without trailing spaces.
func outLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		lines = append(lines, strings.TrimRight(l, " \t\r"))
	}
	return lines
}

// holdsLines reports the first of want that out lacks, in order.
func holdsLines(out string, want []string) error {
	lines := outLines(out)
	i := 0
	for _, w := range want {
		match := func(l string) bool { return l == w }
		if re, ok := strings.CutPrefix(w, "~"); ok {
			rx := regexp.MustCompile("^(?:" + re + ")$")
			match = rx.MatchString
		}
		for i < len(lines) && !match(lines[i]) {
			i++
		}
		if i == len(lines) {
			return fmt.Errorf("no line %q (in order)", w)
		}
		i++
	}
	return nil
}

// apiHas checks that GET path answers 200 with body holding each of
// want as a whole JSON line ("name": "x",).
func (h *herokuEnv) apiHas(path string, want ...string) error {
	code, body := h.s.api(h.t, "GET", path, "")
	if code != 200 {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	return jsonHas(body, want...)
}

// jsonHas checks that an indented JSON body holds each of want as a whole
// line, a trailing comma aside.
func jsonHas(body string, want ...string) error {
	lines := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		lines[strings.TrimSuffix(strings.TrimSpace(l), ",")] = true
	}
	for _, w := range want {
		if !lines[w] {
			return fmt.Errorf("no line %s in %s", w, body)
		}
	}
	return nil
}

// hakoOut runs the hako CLI against the server: its output, or an error
// saying why it failed.
func (h *herokuEnv) hakoOut(args ...string) (string, error) {
	out, err := h.s.run(args...)
	if err != nil {
		return out, fmt.Errorf("hako %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// hakoHas runs the hako CLI and checks its output holds lines, in order.
func (h *herokuEnv) hakoHas(args []string, lines ...string) error {
	out, err := h.hakoOut(args...)
	if err != nil {
		return err
	}
	if e := holdsLines(out, lines); e != nil {
		return fmt.Errorf("hako %s: %v:\n%s", strings.Join(args, " "), e, out)
	}
	return nil
}
