package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// markerSource is the shared object an attacking app ships. Its
// constructor runs in every process that loads it (LD_PRELOAD) and
// records who that process is: a line "mark uid=U euid=E exe=PATH" goes
// to HOST_MARKS, a path on the host outside any sandbox, and to
// $MARK_IN/ld-marks when MARK_IN is set (the app's own directory).
const markerSource = `
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(const char *path, const char *line) {
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd >= 0) {
		if (write(fd, line, strlen(line)) < 0) {}
		close(fd);
	}
}

__attribute__((constructor)) static void mark(void) {
	char exe[256] = "?", line[512], path[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) exe[n] = 0;
	snprintf(line, sizeof line, "mark uid=%d euid=%d exe=%s\n", (int)getuid(), (int)geteuid(), exe);
	put(HOST_MARKS, line);
	const char *in = getenv("MARK_IN");
	if (in && *in) {
		snprintf(path, sizeof path, "%s/ld-marks", in);
		put(path, line);
	}
}
`

// markLine matches one line the marker writes.
var markLine = regexp.MustCompile(`^mark uid=(\d+) euid=(\d+) exe=(.*)$`)

// markers is a compiled marker object and where it reports on the host.
type markers struct {
	so        string // the shared object, on the host, readable by anyone
	hostMarks string // where it reports outside any sandbox
}

// buildMarker compiles markerSource into a directory of the host that
// every user can reach (dynos included, were they not sandboxed).
func buildMarker(t *testing.T) markers {
	t.Helper()
	need(t, "cc")
	dir, err := os.MkdirTemp("", "hako-marks-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	m := markers{so: filepath.Join(dir, "evil.so"), hostMarks: filepath.Join(dir, "host-marks")}
	src := filepath.Join(dir, "evil.c")
	if err := os.WriteFile(src, []byte(markerSource), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("cc", "-shared", "-fPIC", "-O2", `-DHOST_MARKS="`+m.hostMarks+`"`, "-o", m.so, src).CombinedOutput()
	if err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	if err := os.Chmod(m.so, 0o755); err != nil {
		t.Fatal(err)
	}
	return m
}

// noHostMarks fails the test if the marker ran anywhere it could reach
// the host's files: outside the dyno or build step.
func (m markers) noHostMarks(t *testing.T, after string) {
	t.Helper()
	b, err := os.ReadFile(m.hostMarks)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	t.Errorf("after %s the app's shared object ran outside the sandbox:\n%s (err %v)", after, b, err)
}

// marks returns the marker lines in out; each must be of a process that
// is not root, and of uid want when want >= 0.
func marks(t *testing.T, what, out string, want int) []string {
	t.Helper()
	var found []string
	for line := range strings.SplitSeq(out, "\n") {
		// git prints the server's side of a push after "remote:".
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "remote:"))
		m := markLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		found = append(found, line)
		uid, _ := strconv.Atoi(m[1])
		euid, _ := strconv.Atoi(m[2])
		if uid == 0 || euid == 0 {
			t.Errorf("%s: the shared object ran as root: %q", what, line)
		} else if want >= 0 && (uid != want || euid != want) {
			t.Errorf("%s: the shared object ran as %q, want uid %d", what, line, want)
		}
	}
	if len(found) == 0 {
		t.Errorf("%s: the shared object never ran inside the sandbox (LD_PRELOAD must keep working for the app):\n%s", what, out)
	}
	return found
}

// dynoUID is the uid an app's one-off dynos run as, without preloading.
func dynoUID(t *testing.T, s *server, app string) int {
	t.Helper()
	out := s.hako(t, "run", "-a", app, "--no-tty", "--", "echo uid=$(id -u)")
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "uid="); ok {
			uid, err := strconv.Atoi(v)
			if err == nil {
				return uid
			}
		}
	}
	t.Fatalf("no uid in:\n%s", out)
	return -1
}

// markerApp makes a git repository of an app that ships the marker: its
// web dyno serves its own directory (so /ld-marks shows what ran in it)
// and its release phase prints what ran in it.
func markerApp(t *testing.T, m markers) string {
	t.Helper()
	dir := t.TempDir()
	so, err := os.ReadFile(m.so)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Procfile":   "web: python3 -m http.server $PORT\nrelease: echo release-uid=$(id -u); cat /app/ld-marks 2>/dev/null; true\n",
		"index.html": "marker app\n",
		"evil.so":    string(so),
	}
	return commitFiles(t, dir, files, "first")
}

// TestPreloadConfigVarStaysInDyno replays the attack of an app that sets
// LD_PRELOAD (a config var, `run -e`, the release phase) to a shared
// object the server's root part could load: hako's root init must never
// see it. The object is preloaded from the host path and from the slug
// (/app), so that it would run both in a root init on the host and in
// the dyno; only the dyno, as the dyno's uid, may run it.
func TestPreloadConfigVarStaysInDyno(t *testing.T) {
	need(t, "python3")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the isolation attacks need a root server under CI")
		}
		t.Skip("the isolation attacks need a root server")
	}
	m := buildMarker(t)
	s := startServer(t)
	app := "preload"
	s.hako(t, "apps:create", app)
	src := markerApp(t, m)
	if out, err := s.push(src, s.key, app, "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, app, "marker app")
	uid := dynoUID(t, s, app)
	if uid == 0 {
		t.Fatalf("dynos run as root")
	}
	preload := "LD_PRELOAD=/app/evil.so " + m.so

	// config:set restarts the dynos with the variable.
	s.hako(t, "config:set", "-a", app, preload, "MARK_IN=/app")
	var body string
	waitFor(t, 30*time.Second, "the web dyno to preload the object", func() bool {
		code, b, err := s.get(app, "/ld-marks")
		body = b
		return err == nil && code == 200 && strings.Contains(b, "mark uid=")
	}, func() string { return body + "\n" + s.out.String() })
	marks(t, "web dyno after config:set", body, uid)
	m.noHostMarks(t, "config:set LD_PRELOAD")
	// The web dyno's init, root on the host, holds none of the app's
	// environment.
	for _, d := range s.dynos(t, app) {
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", d.PID))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(env), "LD_PRELOAD") || strings.Contains(string(env), "MARK_IN") {
			t.Errorf("the init of %s has the app's environment: %q", d.Name, env)
		}
	}
	if got := s.infoIsolation(t, app); !strings.HasPrefix(got, "auto: dynos and builds run in their own PID, mount, UTS and IPC namespaces, in a private root") {
		t.Errorf("apps:info isolation of a root server = %q", got)
	}

	// run -e, with the config var gone.
	s.hako(t, "config:unset", "-a", app, "LD_PRELOAD", "MARK_IN")
	out := s.hako(t, "run", "-a", app, "--no-tty", "-e", preload, "-e", "MARK_IN=/app", "--", "cat /app/ld-marks")
	marks(t, "run -e", out, uid)
	m.noHostMarks(t, "run -e LD_PRELOAD")

	// The release phase of the next push.
	s.hako(t, "config:set", "-a", app, preload, "MARK_IN=/app")
	if err := os.WriteFile(filepath.Join(src, "index.html"), []byte("marker app, again\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, src, "commit", "-qam", "again")
	out, err := s.push(src, s.key, app, "main")
	if err != nil {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf("release-uid=%d", uid)) {
		t.Errorf("release phase output lacks its uid:\n%s", out)
	}
	marks(t, "release phase", out, uid)
	m.noHostMarks(t, "a release phase with LD_PRELOAD")
}

// TestBuildpackExportStaysInSandbox replays the attack of a remote
// buildpack, named in the app's .buildpacks and served by a git daemon,
// whose export file sets LD_PRELOAD for the steps after it: only those
// steps' commands, sandboxed and not root, may load the object.
func TestBuildpackExportStaysInSandbox(t *testing.T) {
	need(t, "python3", "git")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the isolation attacks need a root server under CI")
		}
		t.Skip("the isolation attacks need a root server")
	}
	m := buildMarker(t)
	base := t.TempDir()
	pack := filepath.Join(base, "evil")
	so, err := os.ReadFile(m.so)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"bin/detect":  "#!/bin/sh\necho evil\n",
		"bin/compile": "#!/bin/sh\ncp \"$(dirname \"$0\")/../evil.so\" \"$1/evil.so\"\necho '       evil pack compiled'\n",
		// Sourced in the build directory after compile: the next steps
		// get the object preloaded, and leave their marks in the slug.
		"export":  "export LD_PRELOAD=\"$PWD/evil.so\"\nexport MARK_IN=\"$PWD\"\n",
		"evil.so": string(so),
	}
	commitFiles(t, pack, files, "evil pack")
	daemon := gitDaemon(t, base)

	s := startServer(t)
	app := "exported"
	s.hako(t, "apps:create", app)
	src := repo(t, "procfile-app")
	if err := os.WriteFile(filepath.Join(src, ".buildpacks"), []byte("git://"+daemon+"/evil\nprocfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, src, "add", "-A")
	git(t, src, "commit", "-qm", "buildpacks")
	out, err := s.push(src, s.key, app, "main")
	if err != nil || !strings.Contains(out, "evil pack compiled") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	m.noHostMarks(t, "a buildpack exporting LD_PRELOAD")
	// What the later steps recorded in the build directory is in the slug.
	marks(t, "build steps after the export", s.hako(t, "run", "-a", app, "--no-tty", "--", "cat /app/ld-marks"), -1)
	m.noHostMarks(t, "running the built app")
}

// gitDaemon serves the repositories under base over git:// from an
// outside network namespace (see outside), where builds reach it as they
// would a git host, for the length of the test, and returns its address.
func gitDaemon(t *testing.T, base string) string {
	t.Helper()
	o := newOutside(t)
	port := freePort(t)
	return o.serve(t, port, "git", "daemon", "--reuseaddr", "--export-all", "--base-path="+base, "--listen="+o.addr, "--port="+port, base)
}
