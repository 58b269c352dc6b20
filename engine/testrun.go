package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// TestRunRequest is one run of an app's tests, as Heroku CI runs them
// (`hako ci`): the source is built for testing, environments.test of its
// app.json is set up, and the suite runs in test dynos.
type TestRunRequest struct {
	// App is an app made for the run, never deployed: the run gives it a
	// release of the test build, which no dyno of its formation runs.
	App string
	// Source is a tar.gz of the app's files.
	Source io.Reader
	// ID, Branch and Commit are HEROKU_TEST_RUN_ID, _BRANCH and
	// _COMMIT_VERSION.
	ID, Branch, Commit string
	// CacheKey, when set, names the build cache the runs of one
	// repository share (CACHE/_ci/KEY); else the app's own is used.
	CacheKey string
	User     string
	Out      io.Writer
}

// TestRunResult is how a test run ended.
type TestRunResult struct {
	// Status is "succeeded" (every test dyno exited 0), "failed" (one
	// did not) or "errored" (the run never got to the tests: the build or
	// an add-on failed).
	Status  string         `json:"status"`
	Message string         `json:"message,omitempty"`
	Nodes   []TestNode     `json:"nodes"`
	TAP     *TAPSummary    `json:"tap,omitempty"`
	Release int            `json:"release,omitempty"`
	Timings map[string]int `json:"timings_ms,omitempty"`
}

// TestNode is one test dyno of a run.
type TestNode struct {
	Index    int    `json:"index"`
	Dyno     string `json:"dyno"`
	ExitCode int    `json:"exit_code"`
	// TAP counts the TAP stream of the dyno's output, when it had one.
	TAP *TAPSummary `json:"tap,omitempty"`
}

// Test run statuses, as Heroku CI names them.
const (
	TestSucceeded = "succeeded"
	TestFailed    = "failed"
	TestErrored   = "errored"
)

// ciCacheScope is the directory under CACHE/_ci of the user's keyed
// caches: the administrator's (the user of `hako ci`'s own server) at its
// top, each other user's in one of their own. A key is the hash of a
// repository's origin, which the students of a class share: without a
// scope of their own, one student's test build could poison the cache
// every other's links from.
func (e *Engine) ciCacheScope(user string) string {
	if u, err := e.users().User(user); err == nil && u.Admin {
		return ""
	}
	sum := sha256.Sum256([]byte(user))
	return "user-" + hex.EncodeToString(sum[:8])
}

// cacheKeyRe is what a test run's cache key may be: a path element.
var cacheKeyRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// TestRun builds req's source for testing, sets up environments.test of
// its app.json (config vars, fresh add-ons), and runs the suite in
// environments.test's number of test dynos at once, each isolated like
// any dyno, their output streamed to req.Out (prefixed "test.N | " when
// there are several). The build's slug becomes the app's current
// release, so a kept app can be inspected (`hako run`); no dyno of a
// formation runs it. A failed build or add-on gives an "errored" result
// and no error; invalid requests return EINVALID or ENOTFOUND.
func (e *Engine) TestRun(ctx context.Context, req TestRunRequest) (*TestRunResult, error) {
	out := req.Out
	if out == nil {
		out = io.Discard
	}
	if req.CacheKey != "" && !cacheKeyRe.MatchString(req.CacheKey) {
		return nil, Errorf(EINVALID, "The cache key must be lowercase letters, digits and dashes (at most 64).")
	}
	for name, v := range map[string]string{"id": req.ID, "branch": req.Branch, "commit": req.Commit} {
		if len(v) > 255 || !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
			return nil, Errorf(EINVALID, "The test run's %s must be text of at most 255 bytes without control characters.", name)
		}
	}
	app, err := e.App(req.App)
	if err != nil {
		return nil, err
	}
	unlock, err := e.lockFor(ctx, app.Name, "a test run", out)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if app, err = e.App(req.App); err != nil {
		return nil, err
	}
	cur, err := e.Store.Release(app.Name, app.CurrentRelease)
	if err != nil {
		return nil, fmt.Errorf("read current release of %s: %w", app.Name, err)
	}
	if !firstDeploy(cur) {
		return nil, Errorf(EINVALID, "%s has been deployed: a test run needs an app of its own (`hako ci` makes one).", app.Name)
	}
	timings := map[string]int{}
	mark := func(what string, since time.Time) { timings[what] = int(time.Since(since).Milliseconds()) }
	errored := func(msg string) (*TestRunResult, error) {
		return &TestRunResult{Status: TestErrored, Message: msg, Nodes: []TestNode{}, Timings: timings}, nil
	}

	t0 := time.Now()
	tmp, err := e.MkdirTemp("source")
	if err != nil {
		return nil, fmt.Errorf("prepare source of %s: %w", app.Name, err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if req.Source == nil {
		return nil, Errorf(EINVALID, "No source to test: upload a tar.gz.")
	}
	if err := e.Builder.ExtractSource(req.Source, src); err != nil {
		return nil, err
	}
	mark("upload", t0)
	if r, ok := e.Supervisor.(Refuser); ok {
		if err := r.Refusal(); err != nil {
			return nil, err
		}
	}
	ciVars := map[string]string{"CI": "true", "HEROKU_TEST_RUN_ID": req.ID, "HEROKU_TEST_RUN_BRANCH": req.Branch, "HEROKU_TEST_RUN_COMMIT_VERSION": req.Commit}
	cacheDir := e.Paths.AppCache(app.Name)
	if req.CacheKey != "" && e.Paths.Cache != "" {
		cacheDir = filepath.Join(e.Paths.Cache, "_ci", e.ciCacheScope(req.User), req.CacheKey)
	}
	t0 = time.Now()
	bctx, buildDone := e.buildDeadline(ctx, out)
	res, err := e.Builder.Build(bctx, BuildRequest{
		App: app.Name, SourceDir: src, CacheDir: cacheDir, Commit: req.Commit,
		Config: ciVars, Buildpacks: app.Buildpacks, Out: out, UID: app.UID, GID: app.UID, Test: true,
	})
	err = buildDone(err)
	mark("build", t0)
	if err != nil {
		if ErrorCode(err) == EBUILD {
			return errored(ErrorMessage(err))
		}
		return nil, err
	}
	var test *AppTest
	if res.AppJSON != nil {
		test = res.AppJSON.Test
	}
	if test == nil {
		test = &AppTest{Nodes: 1}
	}
	command, err := testCommand(test, res.TestPacks)
	if err != nil {
		e.dropUnrecorded(res.SlugID)
		fmt.Fprintf(out, " !     %s\n", ErrorMessage(err))
		return errored(ErrorMessage(err))
	}

	t0 = time.Now()
	cfg := maps.Clone(ciVars)
	for _, k := range slices.Sorted(maps.Keys(test.Env)) {
		switch v := test.Env[k]; {
		case v.HasValue:
			cfg[k] = v.Value
		case v.Generator == "secret":
			cfg[k] = newSecret()
		case v.Required:
			e.dropUnrecorded(res.SlugID)
			msg := fmt.Sprintf("app.json: the test run's required config var %s has no value: give it one in environments.test.env.", k)
			fmt.Fprintf(out, " !     %s\n", msg)
			return errored(msg)
		}
	}
	slug := &Slug{
		ID: res.SlugID, App: app.Name, Size: res.Size, Checksum: "SHA256:" + res.SlugID,
		Commit: req.Commit, Buildpack: res.Buildpack, ProcessTypes: res.ProcessTypes,
		Stack: Stack, CreatedAt: time.Now().UTC(),
	}
	if res.AppJSON != nil {
		slug.AppJSON = res.AppJSON.Raw
	}
	for _, want := range test.Addons {
		want.Plan = strings.TrimSuffix(want.Plan, ":in-dyno") // Heroku CI's plan: a fresh one here
		as, url, err := e.declaredAddon(ctx, app, want, req.User, out)
		if err != nil {
			e.dropUnrecorded(res.SlugID)
			msg := fmt.Sprintf("app.json: add-on %s could not be provisioned: %s", want.Plan, ErrorMessage(err))
			fmt.Fprintf(out, " !     %s\n", msg)
			return errored(msg)
		}
		if as != "" {
			cfg[as+"_URL"] = url
		}
	}
	var rel *Release
	err = e.recordSlug(slug.ID, func() (err error) {
		rel, err = e.Store.CreateRelease(&Release{
			App: app.Name, Description: strings.TrimSpace("Test run " + shortCommit(req.Commit)), User: req.User,
			CreatedAt: time.Now().UTC(), SlugID: slug.ID, Config: cfg, Status: ReleaseSucceeded,
		}, slug)
		return err
	})
	if err != nil {
		e.dropUnrecorded(res.SlugID)
		return nil, err
	}
	e.retainSlugs(app.Name)
	e.log(app.Name, "api", "Test run %s of %s by user %s", req.ID, shortCommit(req.Commit), req.User)
	mark("setup", t0)

	t0 = time.Now()
	nodes, err := e.runTestNodes(ctx, app.Name, rel, slug, test, command, out)
	mark("test", t0)
	if err != nil {
		return nil, err
	}
	result := &TestRunResult{Status: TestSucceeded, Nodes: nodes, Release: rel.Version, Timings: timings}
	for _, n := range nodes {
		if n.ExitCode != 0 {
			result.Status = TestFailed
		}
		if n.TAP != nil {
			if result.TAP == nil {
				result.TAP = &TAPSummary{}
			}
			result.TAP.OK += n.TAP.OK
			result.TAP.NotOK += n.TAP.NotOK
			result.TAP.Planned += n.TAP.Planned
		}
	}
	return result, nil
}

// testCommand is what each test dyno runs: environments.test's
// test-setup, then its test script or else the buildpacks' bin/test
// scripts (copied into the slug at packs, relative to /app), each given
// the app's directory and an env dir of the dyno's variables, as the
// Testpack API says.
func testCommand(test *AppTest, packs []string) (string, error) {
	var b strings.Builder
	if test.TestSetup != "" {
		b.WriteString(`sh -c "$HAKO_TEST_SETUP" || { s=$?; echo "test-setup exited with status $s" >&2; exit $s; }` + "\n")
	}
	switch {
	case test.Test != "":
		b.WriteString(`exec sh -c "$HAKO_TEST_SCRIPT"` + "\n")
	case len(packs) > 0:
		// ENV_DIR: one file per variable, as buildpacks get them.
		b.WriteString(`env_dir=$(mktemp -d) || exit 1` + "\n")
		b.WriteString(`for k in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do eval "printf '%s' \"\${$k}\"" >"$env_dir/$k"; done` + "\n")
		b.WriteString("status=0\n")
		for _, p := range packs {
			fmt.Fprintf(&b, "\"$HOME/%s/bin/test\" \"$HOME\" \"$env_dir\" || status=$?\n", p)
		}
		b.WriteString("exit $status\n")
	default:
		return "", Errorf(EINVALID, "No test command: give one in app.json (environments.test.scripts.test), or use a buildpack with a bin/test script (Go, Node.js).")
	}
	return b.String(), nil
}

// runTestNodes runs the test dynos of a run at once and returns how each
// ended. Each sees CI_NODE_TOTAL and CI_NODE_INDEX (0 to N-1).
func (e *Engine) runTestNodes(ctx context.Context, app string, rel *Release, slug *Slug, test *AppTest, command string, out io.Writer) ([]TestNode, error) {
	dir, done, err := e.unpack(app, slug.ID)
	if err != nil {
		return nil, err
	}
	defer done()
	uid, gid, err := e.identity(app)
	if err != nil {
		return nil, err
	}
	if err := e.waitAddons(ctx); err != nil {
		return nil, err
	}
	n := max(test.Nodes, 1)
	fmt.Fprintf(out, "-----> Running tests on %d test dyno%s\n", n, map[bool]string{true: "s"}[n > 1])
	nodes := make([]TestNode, n)
	errs := make([]error, n)
	shared := &lockedWriter{w: out}
	var wg sync.WaitGroup
	for i := range n {
		name := fmt.Sprintf("test.%d", i+1)
		env := dynoEnv(app, rel, slug)
		env["CI_NODE_TOTAL"] = strconv.Itoa(n)
		env["CI_NODE_INDEX"] = strconv.Itoa(i)
		env["HAKO_TEST_SETUP"] = test.TestSetup
		env["HAKO_TEST_SCRIPT"] = test.Test
		tap := &tapCounter{}
		var w io.Writer = shared
		var pw *prefixWriter
		if n > 1 {
			pw = &prefixWriter{w: shared, prefix: name + " | "}
			w = pw
		}
		w = io.MultiWriter(w, tap)
		spec := DynoSpec{App: app, Type: "test", Name: name, Release: rel.Version, Command: command, Dir: dir, Env: env, UID: uid, GID: gid}
		// `ps` lists the test dynos while they run, as one-off dynos.
		e.mu.Lock()
		if e.oneoffs[app] == nil {
			e.oneoffs[app] = map[string]DynoStatus{}
		}
		e.oneoffs[app][name] = DynoStatus{Name: name, Type: "test", App: app, Release: rel.Version, Command: command, State: DynoUp, Since: time.Now().UTC()}
		e.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				e.mu.Lock()
				delete(e.oneoffs[app], name)
				e.mu.Unlock()
			}()
			code, err := e.Supervisor.RunOnce(ctx, spec, nil, w)
			if pw != nil {
				pw.Flush()
			}
			nodes[i] = TestNode{Index: i, Dyno: name, ExitCode: code, TAP: tap.summary()}
			if err != nil {
				errs[i] = fmt.Errorf("test dyno %s of %s: %w", name, app, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// lockedWriter serialises the writes of several test dynos.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes whole lines, each prefixed, so that the lines of
// parallel test dynos do not mix; a last line without its newline is
// written when the next write or Flush completes it.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

// Flush writes what is left of a last line without its newline.
func (pw *prefixWriter) Flush() {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if len(pw.buf) > 0 {
		_, _ = pw.w.Write(append(append([]byte(pw.prefix), pw.buf...), '\n'))
		pw.buf = nil
	}
}

func (pw *prefixWriter) Write(p []byte) (int, error) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	pw.buf = append(pw.buf, p...)
	var out []byte
	for {
		i := slices.Index(pw.buf, '\n')
		if i < 0 {
			break
		}
		out = append(append(out, pw.prefix...), pw.buf[:i+1]...)
		pw.buf = pw.buf[i+1:]
	}
	if len(pw.buf) > 4096 { // a long line without an end: write it as it is
		out = append(append(append(out, pw.prefix...), pw.buf...), '\n')
		pw.buf = nil
	}
	if len(out) > 0 {
		if _, err := pw.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
