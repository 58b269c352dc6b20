package cmd

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/frame"
)

func ciCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "ci",
		Usage: "run the app's tests as Heroku CI does, from app.json's environments.test, on a server of their own when none runs",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: ".", Usage: "the app's directory (a git work tree: its committed state)"},
			&cli.BoolFlag{Name: "dirty", Usage: "test the files git does not ignore, committed or not, rather than the last commit"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the test app and its add-ons (and the embedded server, until Ctrl-C)"},
			&cli.BoolFlag{Name: "json", Usage: "print a result object on stdout (the output goes to stderr and to a file it names)"},
		},
		Action: func(c *cli.Context) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			run := &ciRun{env: env, keep: c.Bool("keep"), json: c.Bool("json"), dirty: c.Bool("dirty")}
			code, err := run.do(ctx, c.String("dir"))
			var exit cli.ExitCoder
			if errors.As(err, &exit) {
				return err
			}
			if err == nil && code != 0 {
				return cli.Exit("", code)
			}
			return err
		},
	}
}

// ciRun is one `hako ci`.
type ciRun struct {
	env               *Env
	keep, json, dirty bool

	dir, id, branch, commit string
	out                     io.Writer // where the run's output goes
	logPath                 string    // with --json, the file holding it
}

// ciReport is what --json prints.
type ciReport struct {
	ID         string             `json:"id"`
	App        string             `json:"app"`
	Kept       bool               `json:"kept"`
	Status     string             `json:"status"`
	ExitCode   int                `json:"exit_code"`
	Message    string             `json:"message,omitempty"`
	DurationMS int64              `json:"duration_ms"`
	Branch     string             `json:"branch"`
	Commit     string             `json:"commit"`
	Nodes      []engine.TestNode  `json:"nodes"`
	TAP        *engine.TAPSummary `json:"tap,omitempty"`
	OutputURL  string             `json:"output_url,omitempty"`
	TimingsMS  map[string]int     `json:"timings_ms,omitempty"`
	Server     string             `json:"server"`
}

// do runs the tests of dir and returns the exit status: the tests', or 1
// when the run errored.
func (r *ciRun) do(ctx context.Context, dir string) (int, error) {
	started := time.Now()
	if r.env.Remote {
		return -1, engine.Errorf(engine.EINVALID, "ci tests a local directory: run it with the hako CLI, not over SSH.")
	}
	if err := r.inspect(dir); err != nil {
		return -1, err
	}
	r.id = newUUID()
	r.out = r.env.Stdout
	if r.json {
		logFile, err := r.openLog()
		if err != nil {
			return -1, err
		}
		defer logFile.Close()
		r.out = io.MultiWriter(r.env.Stderr, logFile)
	}

	t0 := time.Now()
	cl, srv, err := r.server()
	if err != nil {
		return -1, err
	}
	timings := map[string]int{"server_start": int(time.Since(t0).Milliseconds())}
	serverKind := "running"
	if srv != nil {
		serverKind = "embedded"
	}
	closeServer := func() error {
		if srv == nil {
			return nil
		}
		return srv.Close()
	}
	// From here on, the app and the server go, whatever happens, unless
	// kept.
	t0 = time.Now()
	app, err := r.createApp(cl)
	if err != nil {
		return -1, errors.Join(err, closeServer())
	}
	timings["app_create"] = int(time.Since(t0).Milliseconds())
	fmt.Fprintf(r.out, "-----> Test run %s of %s on %s\n", r.id, describeRun(r.branch, r.commit, r.dirty), app)
	res, runErr := r.upload(ctx, cl, app)
	interrupted := ctx.Err() != nil
	if interrupted {
		fmt.Fprintln(r.out, " !     Interrupted: removing the test app and its add-ons.")
	}
	kept := r.keep && !interrupted && runErr == nil
	teardown := func() error {
		t0 := time.Now()
		var err error
		if !kept {
			err = cl.Do("DELETE", appPath(app, ""), nil, nil)
		}
		if !kept || srv == nil {
			err = errors.Join(err, closeServer())
		}
		timings["teardown"] = int(time.Since(t0).Milliseconds())
		return err
	}
	if interrupted {
		if err := teardown(); err != nil {
			fmt.Fprintf(r.env.Stderr, " ▸    %s\n", engine.ErrorMessage(err))
		}
		return 130, cli.Exit("The test run was interrupted.", 130)
	}
	if runErr != nil {
		runErr = errors.Join(runErr, teardown())
		if r.json {
			// The CI system gets its result object all the same.
			res = &engine.TestRunResult{Status: engine.TestErrored, Message: engine.ErrorMessage(runErr), Nodes: []engine.TestNode{}}
			_ = r.report(res, app, false, 1, started, timings, serverKind)
		}
		return -1, runErr
	}
	code := exitCode(res)
	summarise(r.out, res)
	if err := teardown(); err != nil {
		return -1, err
	}
	if kept {
		r.printKept(app, srv)
	}
	if r.json {
		if err := r.report(res, app, kept, code, started, timings, serverKind); err != nil {
			return -1, err
		}
	}
	if kept && srv != nil {
		// The embedded server holds the kept app: it stays until Ctrl-C.
		<-ctx.Done()
		if err := errors.Join(cl.Do("DELETE", appPath(app, ""), nil, nil), closeServer()); err != nil {
			return -1, err
		}
	}
	return code, nil
}

// inspect checks the directory to test and reads its commit and branch.
func (r *ciRun) inspect(dir string) error {
	var err error
	if r.dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if st, err := os.Stat(r.dir); err != nil || !st.IsDir() {
		return engine.Errorf(engine.EINVALID, "%s is not a directory.", dir)
	}
	top := gitOutput(r.dir, "rev-parse", "--show-toplevel")
	if top == "" && !r.dirty {
		return engine.Errorf(engine.EINVALID, "%s is not in a git work tree: commit the app, or test its files as they are with --dirty.", dir)
	}
	if top != "" && !r.dirty && gitOutput(r.dir, "rev-parse", "--verify", "-q", "HEAD") == "" {
		return engine.Errorf(engine.EINVALID, "The repository has no commit yet: commit the app, or test its files as they are with --dirty.")
	}
	r.commit = gitOutput(r.dir, "rev-parse", "HEAD")
	if r.branch = gitOutput(r.dir, "rev-parse", "--abbrev-ref", "HEAD"); r.branch == "HEAD" {
		// A detached HEAD, as CI systems check commits out: the branch
		// they say they test.
		r.branch = ciBranch()
	}
	return nil
}

// exitCode is `hako ci`'s status for a result: 0 when the tests passed,
// the first failing test dyno's status, or 1 when the run errored.
func exitCode(res *engine.TestRunResult) int {
	switch res.Status {
	case engine.TestSucceeded:
		return 0
	case engine.TestFailed:
		for _, n := range res.Nodes {
			if n.ExitCode != 0 {
				return n.ExitCode
			}
		}
	}
	return 1
}

// report prints --json's result object on stdout.
func (r *ciRun) report(res *engine.TestRunResult, app string, kept bool, code int, started time.Time, timings map[string]int, server string) error {
	for k, v := range res.Timings {
		timings[k] = v
	}
	rep := ciReport{ID: r.id, App: app, Kept: kept, Status: res.Status, ExitCode: code, Message: res.Message,
		DurationMS: time.Since(started).Milliseconds(), Branch: r.branch, Commit: r.commit, Nodes: res.Nodes, TAP: res.TAP,
		OutputURL: (&url.URL{Scheme: "file", Path: r.logPath}).String(), TimingsMS: timings, Server: server}
	enc := json.NewEncoder(r.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// server returns a client of the running server, or starts an embedded
// one: a server runs when HAKO_API_URL names one, or HAKO_HOME's
// server.json does and it answers.
func (r *ciRun) server() (*Client, *ephemeral, error) {
	if os.Getenv("HAKO_API_URL") != "" {
		cl, err := NewClientFromEnv()
		return cl, nil, err
	}
	if home, err := Home(); err == nil {
		if info, err := readServerInfo(home); err == nil {
			cl := &Client{URL: info.APIURL, Token: info.Token, HTTP: &http.Client{Timeout: 2 * time.Second}}
			if cl.Do("GET", "/account", nil, nil) == nil {
				cl.HTTP = &http.Client{Timeout: 10 * time.Minute}
				fmt.Fprintf(r.out, "-----> Using the hako server of %s\n", home)
				return cl, nil, nil
			}
		}
	}
	cfg, err := ephemeralConfig()
	if err != nil {
		return nil, nil, err
	}
	if os.Getenv("HAKO_WARM_GO") == "" {
		// A test run that builds Go fills the shared standard library
		// itself, once per machine; one that does not should not pay for
		// compiling it in the background.
		cfg.WarmGo = false
	}
	sweptEphemeral(r.out)
	t0 := time.Now()
	srv, err := startEphemeral(io.Discard, cfg)
	if err != nil {
		return nil, nil, err
	}
	info := srv.srv.Info()
	fmt.Fprintf(r.out, "-----> Started an embedded hako server in %.2f s (HAKO_HOME %s, caches in %s)\n", time.Since(t0).Seconds(), srv.home, cfg.CacheDir)
	return &Client{URL: info.APIURL, Token: info.Token, HTTP: &http.Client{Timeout: 10 * time.Minute}}, srv, nil
}

// createApp makes the run's app, ci- and a random suffix.
func (r *ciRun) createApp(cl *Client) (string, error) {
	var lastErr error
	for range 5 {
		name := "ci-" + randomSuffix(10)
		var app struct {
			Name string `json:"name"`
		}
		err := cl.Do("POST", "/apps", map[string]string{"name": name}, &app)
		if err == nil {
			return app.Name, nil
		}
		if lastErr = err; engine.ErrorCode(err) != engine.ECONFLICT {
			return "", err
		}
	}
	return "", lastErr
}

// cacheKey names the build cache of this repository's runs: its origin
// remote, else its directory.
func (r *ciRun) cacheKey() string {
	id := gitOutput(r.dir, "config", "--get", "remote.origin.url")
	if id == "" {
		if id = gitOutput(r.dir, "rev-parse", "--show-toplevel"); id == "" {
			id = r.dir
		}
	}
	sum := sha256.Sum256([]byte(id))
	return "repo-" + hex.EncodeToString(sum[:8])
}

// upload sends the source and streams the run's output; it returns the
// run's result.
func (r *ciRun) upload(ctx context.Context, cl *Client, app string) (*engine.TestRunResult, error) {
	body, wait, err := r.source()
	if err != nil {
		return nil, err
	}
	q := url.Values{"id": {r.id}, "branch": {r.branch}, "commit": {r.commit}, "cache_key": {r.cacheKey()}}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(cl.URL, "/")+appPath(app, "/test-runs?"+q.Encode()), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cl.Token)
	req.Header.Set("Content-Type", "application/gzip")
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		_ = body.Close()
		_ = wait()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, engine.Errorf(engine.EINTERNAL, "Cannot reach the hako server at %s (%v)", cl.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_ = body.Close()
		_ = wait()
		return nil, readAPIError(resp)
	}
	var res *engine.TestRunResult
	for {
		kind, p, err := frame.Read(resp.Body)
		if err != nil {
			_ = wait()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, engine.Errorf(engine.EINTERNAL, "The test run's output ended early: %v", err)
		}
		switch kind {
		case frame.Output:
			_, _ = r.out.Write(p)
		case frame.Result:
			res = &engine.TestRunResult{}
			if err := json.Unmarshal(p, res); err != nil {
				return nil, fmt.Errorf("read the test run's result: %w", err)
			}
		case frame.Exit:
			if err := wait(); err != nil {
				return nil, err
			}
			if res == nil {
				return nil, engine.Errorf(engine.EINTERNAL, "The server sent no result for the test run.")
			}
			return res, nil
		}
	}
}

// describeRun names what is tested: "main at 1a2b3c4", with "(uncommitted
// files)" for --dirty.
func describeRun(branch, commit string, dirty bool) string {
	s := shortSHA(commit)
	if branch != "" {
		s = branch + " at " + s
	}
	if s == "" {
		s = "the directory"
	}
	if dirty {
		s += " with uncommitted changes"
	}
	return s
}

func shortSHA(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

// summarise prints the run's end: each node's status and the TAP counts.
func summarise(w io.Writer, res *engine.TestRunResult) {
	switch res.Status {
	case engine.TestErrored:
		fmt.Fprintf(w, "-----> Test run errored: %s\n", res.Message)
		return
	case engine.TestSucceeded:
		fmt.Fprintln(w, "-----> Tests passed")
	default:
		fmt.Fprintln(w, "-----> Tests failed")
	}
	if len(res.Nodes) > 1 {
		for _, n := range res.Nodes {
			fmt.Fprintf(w, "       %s (CI_NODE_INDEX=%d): exit status %d\n", n.Dyno, n.Index, n.ExitCode)
		}
	}
	if res.TAP != nil {
		fmt.Fprintf(w, "       TAP: %d ok, %d not ok (%d planned)\n", res.TAP.OK, res.TAP.NotOK, res.TAP.Planned)
	}
}

// printKept says how to reach a kept app.
func (r *ciRun) printKept(app string, srv *ephemeral) {
	fmt.Fprintf(r.out, "-----> Kept the test app %s and its add-ons\n", app)
	if srv == nil {
		fmt.Fprintf(r.out, "       hako run -a %s bash; remove it with hako apps:destroy -a %s --confirm %s\n", app, app, app)
		return
	}
	fmt.Fprintf(r.out, "       The embedded server keeps it until Ctrl-C; meanwhile, in another terminal:\n")
	fmt.Fprintf(r.out, "       HAKO_HOME=%s hako run -a %s bash\n", srv.home, app)
}

// openLog creates the file of --json's output in the cache directory,
// keeping the 20 newest of earlier runs.
func (r *ciRun) openLog() (*os.File, error) {
	root, err := cacheRoot()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "ci-logs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make the directory of the test logs: %w", err)
	}
	if old, _ := filepath.Glob(filepath.Join(dir, "*.log")); len(old) >= 20 {
		byTime := map[string]time.Time{}
		for _, p := range old {
			if fi, err := os.Stat(p); err == nil {
				byTime[p] = fi.ModTime()
			}
		}
		sortByTime(old, byTime)
		for _, p := range old[:len(old)-19] {
			_ = os.Remove(p)
		}
	}
	r.logPath = filepath.Join(dir, r.id+".log")
	f, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the test log: %w", err)
	}
	return f, nil
}

// newUUID returns a random (version 4) UUID, HEROKU_TEST_RUN_ID's form.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randomSuffix returns n random lowercase letters and digits.
func randomSuffix(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// ciBranch is the branch a CI system says it tests, for a detached HEAD:
// HEROKU_TEST_RUN_BRANCH, GitHub Actions' GITHUB_HEAD_REF (a pull
// request's) or GITHUB_REF_NAME, GitLab's CI_COMMIT_REF_NAME, or
// BRANCH_NAME (Jenkins, Buildkite's BUILDKITE_BRANCH); "" for none.
func ciBranch() string {
	for _, k := range []string{"HEROKU_TEST_RUN_BRANCH", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILDKITE_BRANCH", "BRANCH_NAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}
