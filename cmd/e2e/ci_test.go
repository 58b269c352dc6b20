package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ciRun is one `hako ci` run with no server running: a HAKO_HOME with
// no server.json, a TMPDIR of its own (so that every temporary file the
// run makes is seen), and the build caches every run of the package
// shares (HAKO_CACHE_DIR), as a CI runner's second run would.
type ciRun struct {
	t      *testing.T
	tmp    string // the run's TMPDIR
	subnet string
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
}

// ciCache is the build cache shared by the package's ci runs, removed
// with the test binary's directory.
func ciCache() string { return filepath.Join(filepath.Dir(bin), "ci-cache") }

// startCI starts `hako ci ARGS` in dir with env added.
func startCI(t *testing.T, dir string, env []string, args ...string) *ciRun {
	t.Helper()
	need(t, "git")
	r := &ciRun{t: t, tmp: t.TempDir(), subnet: reserveSubnet(t), out: &syncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(bin, append([]string{"ci", "--dir", dir}, args...)...)
	base := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "HAKO_") || strings.HasPrefix(kv, "TMPDIR=")
	})
	r.cmd.Env = append(append(base, "HAKO_HOME="+t.TempDir(), "TMPDIR="+r.tmp, "HAKO_CACHE_DIR="+ciCache()), env...)
	if r.subnet != "" {
		r.cmd.Env = append(r.cmd.Env, "HAKO_DYNO_SUBNET="+r.subnet)
	}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
	})
	return r
}

// wait waits for the run to end and returns its exit status and output.
func (r *ciRun) wait(d time.Duration) (int, string) {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		r.t.Fatalf("hako ci did not end within %v; output:\n%s", d, r.out.String())
	}
	return r.cmd.ProcessState.ExitCode(), r.out.String()
}

// home is the embedded server's HAKO_HOME, as the run printed it.
func (r *ciRun) home() string {
	r.t.Helper()
	for _, line := range strings.Split(r.out.String(), "\n") {
		if _, rest, ok := strings.Cut(line, "(HAKO_HOME "); ok {
			home, _, _ := strings.Cut(rest, ",")
			return home
		}
	}
	r.t.Fatalf("hako ci did not say where its server's home is:\n%s", r.out.String())
	return ""
}

// assertNoTrace checks that the run left nothing behind: no file in its
// TMPDIR (its server's home included), no process, mount or add-on data
// of that home, and no network of its dyno subnet.
func (r *ciRun) assertNoTrace() {
	t := r.t
	t.Helper()
	home := r.home()
	if !strings.HasPrefix(home, r.tmp+"/") {
		t.Fatalf("the server's home %s is not in the run's TMPDIR %s", home, r.tmp)
	}
	if left, _ := os.ReadDir(r.tmp); len(left) > 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("temporary files left in TMPDIR: %v", names)
	}
	r.assertHomeGone(home)
}

// assertHomeGone checks that nothing of a server's home is left outside
// it: add-on data, processes, mounts, its dyno network.
func (r *ciRun) assertHomeGone(home string) {
	t := r.t
	t.Helper()
	for _, place := range addonPlaces(home) {
		if _, err := os.Stat(place); err == nil {
			t.Errorf("add-on data left in %s", place)
		}
	}
	for _, p := range processesOf(home) {
		t.Errorf("a process of the run is left: %s", p)
	}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.Contains(sc.Text(), home) {
				t.Errorf("a mount of the run is left: %s", sc.Text())
			}
		}
		f.Close()
	}
	if r.subnet != "" {
		gw := netip.MustParsePrefix(r.subnet).Addr().Next().String()
		if out, err := exec.Command("ip", "-o", "-4", "addr", "show").Output(); err == nil {
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, " "+gw+"/") {
					t.Errorf("the dyno network of the run is left: %s", line)
				}
			}
		}
	}
}

// addonPlaces are where the add-on servers of home keep their data when
// home's parents are closed to their user (see the add-on packages).
func addonPlaces(home string) []string {
	var places []string
	for service, base := range map[string]string{"postgres": "/var/lib/hako-postgres", "redis": "/var/lib/hako-redis"} {
		sum := sha256.Sum256([]byte(filepath.Join(home, "addons", service)))
		places = append(places, filepath.Join(base, hex.EncodeToString(sum[:8])))
	}
	return places
}

// processesOf lists the processes whose command line names home or its
// add-ons' places: the server's dynos and add-on servers.
func processesOf(home string) []string {
	places := append(addonPlaces(home), home)
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && slices.ContainsFunc(places, func(place string) bool { return strings.Contains(string(b), place) }) {
			found = append(found, p+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}

// ciApp copies a testdata app into a git repository with one commit,
// after writing extra files into it.
func ciApp(t *testing.T, app string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(testdataDir(), "apps", app))); err != nil {
		t.Fatal(err)
	}
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "first")
	return dir
}

// A Go app whose test needs PostgreSQL passes under `hako ci` with no
// server running, and nothing of the run is left; the same app with a
// failing test fails the run.
func TestCIGoPostgres(t *testing.T) {
	need(t, "go", "psql")
	dir := ciApp(t, "ci-go-pg", nil)
	r := startCI(t, dir, nil)
	code, out := r.wait(10 * time.Minute)
	if code != 0 {
		t.Fatalf("hako ci exited with %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"-----> Tests passed", "PASS"} {
		if !hasLine(out, want) {
			t.Errorf("output lacks the line %q:\n%s", want, out)
		}
	}
	if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool { return strings.HasPrefix(l, "ok  \texample.test/cigopg\t") }) {
		t.Errorf("output lacks go test's ok line for the package:\n%s", out)
	}
	r.assertNoTrace()

	t.Run("failing test", func(t *testing.T) {
		dir := ciApp(t, "ci-go-pg", map[string]string{"fail_test.go": "package main\n\nimport \"testing\"\n\nfunc TestFails(t *testing.T) { t.Fatal(\"deliberately\") }\n"})
		r := startCI(t, dir, nil)
		code, out := r.wait(10 * time.Minute)
		if code != 1 {
			t.Fatalf("hako ci exited with %d, want 1:\n%s", code, out)
		}
		if !hasLine(out, "-----> Tests failed") || !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool { return strings.HasPrefix(l, "FAIL\texample.test/cigopg\t") }) {
			t.Errorf("output lacks the failure:\n%s", out)
		}
		r.assertNoTrace()
	})
}

// Three test dynos run at once, each told its index, each isolated as a
// dyno is (its own hostname, the app's uid, not root); one failing fails
// the run with its status, and --json reports every node and the TAP
// counts.
func TestCIParallel(t *testing.T) {
	appJSON := `{"environments": {"test": {
	  "formation": {"test": {"quantity": 3}},
	  "env": {"GREETING": "hi"},
	  "scripts": {
	    "test-setup": "echo setup-$CI_NODE_INDEX > /tmp/setup",
	    "test": "echo \"node=$CI_NODE_INDEX total=$CI_NODE_TOTAL dyno=$DYNO setup=$(cat /tmp/setup) greeting=$GREETING ci=$CI root=$([ $(id -u) = 0 ] && echo yes || echo no)\"; echo host=$(cat /proc/sys/kernel/hostname); printf '1..2\\nok 1 - first\\nnot ok 2 - second\\n'; [ $CI_NODE_INDEX != 2 ] || exit 3"
	  }}}}`
	dir := ciApp(t, "procfile-app", map[string]string{"app.json": appJSON})
	r := startCI(t, dir, []string{"HAKO_WARM_GO=false"}, "--json")
	code, out := r.wait(5 * time.Minute)
	if code != 3 {
		t.Fatalf("hako ci exited with %d, want 3 (the failing node's):\n%s", code, out)
	}
	for i, dyno := range []string{"test.1", "test.2", "test.3"} {
		want := dyno + " | node=" + string(rune('0'+i)) + " total=3 dyno=" + dyno + " setup=setup-" + string(rune('0'+i)) + " greeting=hi ci=true root=no"
		if !hasLine(out, want) {
			t.Errorf("output lacks the line %q:\n%s", want, out)
		}
		if os.Geteuid() == 0 && !hasLine(out, dyno+" | host="+dyno) {
			t.Errorf("output lacks the line %q: the test dyno has no hostname of its own:\n%s", dyno+" | host="+dyno, out)
		}
	}
	start := strings.Index(out, "{\n")
	end := strings.LastIndex(out, "\n}")
	if start < 0 || end < start {
		t.Fatalf("no JSON result in the output:\n%s", out)
	}
	var rep struct {
		Status   string `json:"status"`
		ExitCode int    `json:"exit_code"`
		Nodes    []struct {
			Index    int    `json:"index"`
			Dyno     string `json:"dyno"`
			ExitCode int    `json:"exit_code"`
		} `json:"nodes"`
		TAP struct {
			Planned int `json:"planned"`
			OK      int `json:"ok"`
			NotOK   int `json:"not_ok"`
		} `json:"tap"`
		OutputURL string `json:"output_url"`
	}
	if err := json.Unmarshal([]byte(out[start:end+2]), &rep); err != nil {
		t.Fatalf("result: %v\n%s", err, out[start:end+2])
	}
	if rep.Status != "failed" || rep.ExitCode != 3 || len(rep.Nodes) != 3 || rep.Nodes[0].ExitCode != 0 || rep.Nodes[1].ExitCode != 0 || rep.Nodes[2].ExitCode != 3 || rep.Nodes[2].Index != 2 || rep.Nodes[2].Dyno != "test.3" {
		t.Errorf("result = %+v", rep)
	}
	if rep.TAP.Planned != 6 || rep.TAP.OK != 3 || rep.TAP.NotOK != 3 {
		t.Errorf("TAP = %+v, want 6 planned, 3 ok, 3 not ok", rep.TAP)
	}
	log, err := os.ReadFile(strings.TrimPrefix(rep.OutputURL, "file://"))
	if err != nil || !hasLine(string(log), "test.3 | not ok 2 - second") {
		t.Errorf("the output file %s lacks the run's output (%v):\n%s", rep.OutputURL, err, log)
	}
	r.assertNoTrace()
}

// Ctrl-C in the middle of the tests stops them and removes everything:
// the test dyno's processes, the server, its home and add-ons.
func TestCIInterrupt(t *testing.T) {
	need(t, "psql")
	appJSON := `{"environments": {"test": {"addons": ["heroku-postgresql"], "scripts": {"test": "echo started; exec sleep 3171"}}}}`
	dir := ciApp(t, "procfile-app", map[string]string{"app.json": appJSON})
	r := startCI(t, dir, []string{"HAKO_WARM_GO=false"})
	waitFor(t, 2*time.Minute, "the test to start", func() bool { return hasLine(r.out.String(), "started") }, func() string { return r.out.String() })
	// Meanwhile the embedded server answers clients of its home: `ps`
	// lists the test dyno.
	var app string
	for _, l := range strings.Split(r.out.String(), "\n") {
		if _, rest, ok := strings.Cut(l, "-----> Test run "); ok {
			_, app, _ = strings.Cut(rest, " on ")
		}
	}
	ps := exec.Command(bin, "ps", "-a", app, "--json")
	ps.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "HAKO_") }), "HAKO_HOME="+r.home())
	var dynos []dynoStatus
	if b, err := ps.CombinedOutput(); err != nil || json.Unmarshal(b, &dynos) != nil || len(dynos) != 1 || dynos[0].Name != "test.1" || dynos[0].State != "up" {
		t.Errorf("ps of %s while its test runs: %v %s", app, err, b)
	}
	// The check of what is left sees the run's processes while it runs.
	if len(processesOf(r.home())) == 0 {
		t.Errorf("no process of the run is seen while it runs: the checks below would prove nothing")
	}
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	code, out := r.wait(time.Minute)
	if code != 130 {
		t.Errorf("hako ci exited with %d after SIGINT, want 130:\n%s", code, out)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && string(b) == "sleep\x003171\x00" {
			t.Errorf("the test dyno's process is left: %s", p)
		}
	}
	r.assertNoTrace()
}

// With a server running, `hako ci` uses it rather than starting one, and
// removes its test app afterwards, or keeps it with --keep; a test run is
// refused on an app that serves a release, which it would replace.
func TestCIRunningServer(t *testing.T) {
	s := startServer(t)
	appJSON := `{"environments": {"test": {"scripts": {"test": "echo \"tested on $HEROKU_APP_NAME\""}}}}`
	dir := ciApp(t, "procfile-app", map[string]string{"app.json": appJSON})
	ci := func(args ...string) (int, string) {
		c := exec.Command(bin, append([]string{"ci", "--dir", dir}, args...)...)
		c.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "HAKO_") }), "HAKO_HOME="+s.home)
		out, _ := c.CombinedOutput()
		return c.ProcessState.ExitCode(), string(out)
	}
	code, out := ci()
	if code != 0 || !hasLine(out, "-----> Using the hako server of "+s.home) || strings.Contains(out, "embedded") {
		t.Fatalf("hako ci exited with %d, not on the running server:\n%s", code, out)
	}
	if apps := s.hako(t, "apps"); strings.Contains(apps, "ci-") {
		t.Errorf("the test app is left on the server:\n%s", apps)
	}

	code, out = ci("--keep")
	if code != 0 {
		t.Fatalf("hako ci --keep exited with %d:\n%s", code, out)
	}
	var kept string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, "-----> Kept the test app "); ok {
			kept, _, _ = strings.Cut(rest, " ")
		}
	}
	if kept == "" || !hasLine(out, "tested on "+kept) {
		t.Fatalf("hako ci --keep did not name the app it kept:\n%s", out)
	}
	if got := s.hako(t, "run", "-a", kept, "--no-tty", "--", "sh", "-c", "echo $CI"); !hasLine(got, "true") {
		t.Errorf("the kept app does not run with the test run's config: %q", got)
	}

	// No test to run errors the run, and says what to add.
	noTest := ciApp(t, "procfile-app", nil)
	c := exec.Command(bin, "ci", "--dir", noTest)
	c.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "HAKO_") }), "HAKO_HOME="+s.home)
	b, _ := c.CombinedOutput()
	if c.ProcessState.ExitCode() != 1 || !hasLine(string(b), "-----> Test run errored: No test command: give one in app.json (environments.test.scripts.test), or use a buildpack with a bin/test script (Go, Node.js).") {
		t.Errorf("a run without a test exited with %d:\n%s", c.ProcessState.ExitCode(), b)
	}

	// Hostile: a test run uploaded to a deployed app would replace what it
	// serves.
	s.hako(t, "apps:create", "served")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "served", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	var info struct {
		APIURL string `json:"api_url"`
		Token  string `json:"token"`
	}
	data, err := os.ReadFile(filepath.Join(s.home, "server.json"))
	if err != nil || json.Unmarshal(data, &info) != nil {
		t.Fatalf("server.json: %v", err)
	}
	req, _ := http.NewRequest("POST", info.APIURL+"/apps/served/test-runs", strings.NewReader("not a tarball"))
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "served has been deployed: a test run needs an app of its own") {
		t.Errorf("a test run on a deployed app was not refused: %q", body)
	}
	s.waitBody(t, "served", "")
	if rels := s.hako(t, "releases", "-a", "served"); strings.Contains(rels, "Test run") {
		t.Errorf("the refused test run made a release:\n%s", rels)
	}
}

// `hako server --ephemeral` serves on a temporary home it names, which
// clients use, and removes it, with its add-ons' data, when stopped.
func TestServerEphemeral(t *testing.T) {
	need(t, "psql")
	tmp := t.TempDir()
	out := &syncBuffer{}
	env := append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "HAKO_") || strings.HasPrefix(kv, "TMPDIR=")
	}), "TMPDIR="+tmp, "HAKO_CACHE_DIR="+ciCache(), "HAKO_WARM_GO=false")
	cmd := exec.Command(bin, "server", "--ephemeral")
	subnet := reserveSubnet(t)
	if subnet != "" {
		cmd.Args = append(cmd.Args, "--dyno-subnet", subnet)
	}
	cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	var home string
	waitFor(t, 30*time.Second, "the ephemeral server's home", func() bool {
		for _, l := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(l, "Ephemeral: HAKO_HOME="); ok {
				home, _, _ = strings.Cut(rest, " ")
			}
		}
		_, err := os.Stat(filepath.Join(home, "server.json"))
		return home != "" && err == nil
	}, out.String)
	hako := func(args ...string) string {
		c := exec.Command(bin, args...)
		c.Env = append(env, "HAKO_HOME="+home)
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("hako %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	hako("apps:create", "eph")
	hako("addons:create", "-a", "eph", "heroku-postgresql")
	if got := hako("pg:psql", "-a", "eph", "-c", "SELECT 40+2"); !strings.Contains(got, "42") {
		t.Fatalf("the add-on does not answer: %s", got)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("the ephemeral server did not stop:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 || !hasLine(out.String(), "Removed "+home) {
		t.Errorf("exit status %d:\n%s", code, out.String())
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("files left in TMPDIR: %v", left)
	}
	(&ciRun{t: t, tmp: tmp, subnet: subnet}).assertHomeGone(home)
}

// Each repository's test runs have a build cache of their own, under the
// cache directory every run on the machine shares: a repository whose
// build poisons every Go build cache it can write (testdata/apps/
// cache-poisoner, told where the caches are) poisons only its own (its
// next run links the injected fmt: the attack is real), and another
// repository's tests, run before and after, stay clean.
func TestCICachePoisoning(t *testing.T) {
	need(t, "go", "node", "npm")
	needRootE2E(t) // without isolation, every build writes every cache
	const victimLine = "hello from the victim's test"
	victim := ciApp(t, "go-app", map[string]string{"hello_test.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestHello(t *testing.T) { fmt.Fprint(os.Stdout, \"" + victimLine + "\\n\") }\n"})
	runVictim := func() {
		t.Helper()
		code, out := startCI(t, victim, nil).wait(10 * time.Minute)
		if code != 0 || !hasLine(out, victimLine) {
			t.Fatalf("the victim's run exited with %d, without its line:\n%s", code, out)
		}
		if strings.Contains(out, "INJECTED") {
			t.Fatalf("the victim's test linked the poisoned fmt:\n%s", out)
		}
	}
	runVictim()

	caches := filepath.Join(ciCache(), "cache")
	poisoner := ciApp(t, "cache-poisoner", map[string]string{
		"targets.txt":      strings.Join([]string{caches, filepath.Join(caches, "_shared"), filepath.Join(caches, "_ci")}, "\n") + "\n",
		"package.json":     `{"name": "cache-poisoner", "version": "1.0.0", "private": true, "scripts": {"build": "sh poison.sh", "test": "true"}}`,
		"poisoner_test.go": "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestHello(t *testing.T) { fmt.Fprint(os.Stdout, \"hello from the poisoner's test\\n\") }\n",
	})
	// Its own cache: the repository's under the shared directory, or, on
	// a host where builds write on a disk of their own, that cache as the
	// build's disk (under the run's own TMPDIR) shows it.
	sum := sha256.Sum256([]byte(strings.TrimSpace(git(t, poisoner, "rev-parse", "--show-toplevel"))))
	ownCache := filepath.Join(caches, "_ci", "repo-"+hex.EncodeToString(sum[:8])) + "/"
	own := false
	for run := 1; run <= 2; run++ {
		r := startCI(t, poisoner, nil)
		code, out := r.wait(10 * time.Minute)
		if code != 0 {
			t.Fatalf("the poisoner's run %d exited with %d:\n%s", run, code, out)
		}
		for _, l := range strings.Split(out, "\n") {
			dir, ok := strings.CutPrefix(l, "       poisoned: ")
			if !ok {
				continue
			}
			if !strings.HasPrefix(dir, ownCache) && !strings.HasPrefix(dir, r.tmp+"/") {
				t.Errorf("the attack poisoned a cache not its own: %q", l)
			}
			own = true
		}
		if run == 2 && !hasLine(out, strings.TrimSuffix(injectedLine, "\n")) {
			t.Errorf("the poisoner's second run did not link its poisoned fmt (the attack is not real):\n%s", out)
		}
	}
	if !own {
		t.Fatal("the attack reached no cache, not even its own")
	}
	runVictim()
}

// By default a run tests the last commit; with --dirty, the files git
// does not ignore, committed or not, and never the ignored ones.
func TestCIDirty(t *testing.T) {
	appJSON := `{"environments": {"test": {"scripts": {"test": "for f in committed.txt uncommitted.txt ignored.txt; do [ -f $f ] && echo has $f; done; true"}}}}`
	dir := ciApp(t, "procfile-app", map[string]string{"app.json": appJSON, "committed.txt": "c\n", ".gitignore": "ignored.txt\n"})
	for name, content := range map[string]string{"uncommitted.txt": "u\n", "ignored.txt": "i\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args      []string
		has, lack []string
	}{
		{nil, []string{"has committed.txt"}, []string{"has uncommitted.txt", "has ignored.txt"}},
		{[]string{"--dirty"}, []string{"has committed.txt", "has uncommitted.txt"}, []string{"has ignored.txt"}},
	} {
		code, out := startCI(t, dir, []string{"HAKO_WARM_GO=false"}, tc.args...).wait(5 * time.Minute)
		if code != 0 {
			t.Fatalf("hako ci %v exited with %d:\n%s", tc.args, code, out)
		}
		for _, l := range tc.has {
			if !hasLine(out, l) {
				t.Errorf("hako ci %v: no line %q:\n%s", tc.args, l, out)
			}
		}
		for _, l := range tc.lack {
			if hasLine(out, l) {
				t.Errorf("hako ci %v: the line %q:\n%s", tc.args, l, out)
			}
		}
	}
}
