package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// moodPack is a buildpack whose compile does what the app's file "mood"
// says: sleep (a build the server is stopped during), flood (far more
// output than a build keeps) or nothing.
var moodPack = map[string]string{
	"detect": "#!/bin/sh\necho Moody\n",
	"compile": `#!/bin/sh
mood=$(cat "$1/mood" 2>/dev/null)
echo "       compiling, mood: ${mood:-calm}"
case "$mood" in
sleep) echo "       compiling slowly"; exec sleep 6131 ;;
fail) echo "       failing on purpose"; exit 1 ;;
flood) yes 'flood flood flood flood flood flood flood flood flood flood flood flood flood' | head -c 4000000; echo; echo "       flood done" ;;
esac
`,
	"release": "#!/bin/sh\necho '--- {}'\n",
}

// buildRecord is a build as GET /apps/APP/builds answers it.
type buildRecord struct {
	ID         string               `json:"id"`
	Status     string               `json:"status"`
	OutputURL  string               `json:"output_stream_url"`
	Release    *struct{ ID string } `json:"release"`
	SourceBlob struct {
		Version *string `json:"version"`
	} `json:"source_blob"`
}

// builds returns the app's builds, both as decoded and as the raw JSON
// of each.
func (s *server) builds(t *testing.T, app string) ([]buildRecord, []json.RawMessage) {
	t.Helper()
	code, body := s.api(t, "GET", "/apps/"+app+"/builds", "")
	var list []buildRecord
	var raw []json.RawMessage
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || json.Unmarshal([]byte(body), &raw) != nil {
		t.Fatalf("GET /apps/%s/builds: %d %s", app, code, body)
	}
	return list, raw
}

// buildOutput reads a finished build's output_stream_url, which must end.
func buildOutput(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

// TestBuildsSurviveRestart: a push's build is listed with the same JSON
// and the same output after a clean restart and after a kill; a build
// the server is killed during shows as failed, its output ending with a
// line that says so, while the app serves its last good release and the
// build's directory is gone; a build printing four times what a build
// keeps is stored bounded, its end intact.
func TestBuildsSurviveRestart(t *testing.T) {
	s, dir := moodyApp(t, "keep")
	list, raw := s.builds(t, "keep")
	if len(list) != 1 || list[0].Status != "succeeded" || list[0].Release == nil || list[0].SourceBlob.Version == nil {
		t.Fatalf("builds after a push: %s", raw)
	}
	first := list[0]
	head := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	if *first.SourceBlob.Version != head {
		t.Errorf("the build's version is %s, want the pushed commit %s", *first.SourceBlob.Version, head)
	}
	out := buildOutput(t, first.OutputURL)
	for _, want := range []string{"       compiling, mood: calm", "-----> Launching...", "       Released v2"} {
		if !hasLine(out, want) {
			t.Errorf("the build's output lacks the line %q:\n%s", want, out)
		}
	}

	for _, kill := range []bool{false, true} {
		if kill {
			_ = s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.done
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			_ = os.Remove(filepath.Join(s.home, "server.json"))
			s.start()
		} else {
			s.stop()
			s.start()
		}
		list2, raw2 := s.builds(t, "keep")
		if len(raw2) != 1 || string(raw2[0]) != string(raw[0]) {
			t.Errorf("after a restart (kill=%v) the builds are\n%s\nwant\n%s", kill, raw2, raw)
		}
		if got := buildOutput(t, list2[0].OutputURL); got != out {
			t.Errorf("after a restart (kill=%v) the build's output is\n%s\nwant\n%s", kill, got, out)
		}
		if code, one := s.api(t, "GET", "/apps/keep/builds/"+first.ID, ""); code != 200 || !jsonEqual(one, string(raw[0])) {
			t.Errorf("GET the build after a restart: %d %s", code, one)
		}
	}

	// hako's builds, builds:info and builds:output read the same.
	if got := s.hako(t, "builds:output", "-a", "keep"); got != out {
		t.Errorf("builds:output after a restart:\n%s\nwant\n%s", got, out)
	}
	if got := s.hako(t, "builds", "-a", "keep"); !hasLineMatch(got, regexp.QuoteMeta(first.ID)+`  succeeded  `+head[:7]+`  \S+ \d{4}/\d\d/\d\d \d\d:\d\d:\d\d \+0000 \(~ .+ ago\)`) {
		t.Errorf("builds after a restart:\n%s", got)
	}
	if got := s.hako(t, "builds:info", first.ID, "-a", "keep"); !hasLineMatch(got, `Status:\s+succeeded`) || !hasLineMatch(got, `Version:\s+`+head) {
		t.Errorf("builds:info after a restart:\n%s", got)
	}
	if got, err := s.run("builds:info", "0b7a3bb4-6d4d-4e83-9d23-000000000000", "-a", "keep"); err == nil || !hasLineMatch(got, `.*Couldn't find that build: 0b7a3bb4-6d4d-4e83-9d23-000000000000\.`) {
		t.Errorf("builds:info of an unknown build: %v\n%s", err, got)
	}

	// A build the server is killed during.
	commitFile(t, dir, "mood", "sleep\n")
	s.pushKilledAt(t, dir, "keep", "remote:        compiling slowly")
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = os.Remove(filepath.Join(s.home, "server.json"))
	s.start()
	list, raw = s.builds(t, "keep")
	if len(list) != 2 || list[0].ID != first.ID || list[0].Status != "succeeded" || list[1].Status != "failed" || list[1].Release != nil {
		t.Fatalf("builds after a build the server was killed during: %s", raw)
	}
	killed := buildOutput(t, list[1].OutputURL)
	ls := lines(killed)
	if !hasLine(killed, "       compiling slowly") || len(ls) == 0 || ls[len(ls)-1] != "-----> Build failed: the server stopped while this build was running; push again." {
		t.Errorf("the killed build's output:\n%s", killed)
	}
	s.waitBody(t, "keep", "hello from procfile")
	if rels := s.hako(t, "releases", "-a", "keep"); !currentRelease(rels, 2) {
		t.Errorf("the current release moved:\n%s", rels)
	}
	if left, _ := filepath.Glob(filepath.Join(s.home, "tmp", "build-*")); len(left) != 0 {
		t.Errorf("the killed build's directories are left: %v", left)
	}

	// A build printing 4 MB keeps 1 MiB: its head, a line saying how
	// much was left out, its tail with the end of the build.
	commitFile(t, dir, "mood", "flood\n")
	if out, err := s.push(dir, s.key, "keep", "main"); err != nil || !released(out, 3) {
		t.Fatalf("push of the loud build: %v\n%.2000s", err, out)
	}
	list, raw = s.builds(t, "keep")
	if len(list) != 3 || list[2].Status != "succeeded" {
		t.Fatalf("builds after the loud one: %s", raw)
	}
	loud := buildOutput(t, list[2].OutputURL)
	if len(loud) > 1<<20+200 || len(loud) < 1<<20 {
		t.Errorf("the loud build kept %d bytes, want about 1 MiB", len(loud))
	}
	for _, want := range []string{"       compiling, mood: flood", "       flood done", "       Released v3"} {
		if !hasLine(loud, want) {
			t.Errorf("the loud build's output lacks the line %q", want)
		}
	}
	if !hasLineMatch(loud, ` !     \d+ bytes of this build's output were left out here: a build keeps its first 768 KiB and its last 256 KiB\.`) {
		t.Errorf("the loud build's output does not say what was left out")
	}
	files, _ := filepath.Glob(filepath.Join(s.home, "builds", "*", list[2].ID+".log"))
	if len(files) != 1 {
		t.Fatalf("the loud build's output file: %v", files)
	}
	if st, err := os.Stat(files[0]); err != nil || st.Size() != int64(len(loud)) {
		t.Errorf("the loud build's output file takes %v bytes (%v), the stream %d", st.Size(), err, len(loud))
	}

	// Destroyed, the app takes its builds and their output along.
	s.hako(t, "apps:destroy", "keep", "--confirm", "keep")
	if _, err := os.Stat(filepath.Dir(files[0])); !os.IsNotExist(err) {
		t.Errorf("the destroyed app's build output is left: %v", err)
	}
	resp, err := http.Get(list[2].OutputURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("a destroyed app's build output answers %d, want 404", resp.StatusCode)
	}
}

// moodyApp starts a server with moodPack installed, makes app build with
// it and pushes procfile-app to it (v2); it returns the server and the
// app's repository.
func moodyApp(t *testing.T, app string) (*server, string) {
	t.Helper()
	need(t, "python3")
	s := startServer(t)
	pack := filepath.Join(s.home, "buildpacks", "moody", "bin")
	if err := os.MkdirAll(pack, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range moodPack {
		if err := os.WriteFile(filepath.Join(pack, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.hako(t, "apps:create", app)
	s.hako(t, "buildpacks:set", "moody", "-a", app)
	dir := repo(t, "procfile-app")
	if out, err := s.push(dir, s.key, app, "main"); err != nil || !released(out, 2) {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, app, "hello from procfile")
	return s, dir
}

// TestBuildStoppedByInterrupt: a server stopped with Ctrl-C (SIGINT)
// while a build sleeps stops promptly; after the next start the build
// shows as failed with its output saying why, and the app serves its
// last good release.
func TestBuildStoppedByInterrupt(t *testing.T) {
	s, dir := moodyApp(t, "calm")
	commitFile(t, dir, "mood", "sleep\n")
	c := exec.Command("git", "push", fmt.Sprintf("ssh://git@127.0.0.1:%s/calm.git", s.sshPort), "main")
	c.Dir, c.Env = dir, append(os.Environ(), "GIT_SSH_COMMAND="+s.sshCommand(s.key))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	c.Stdout, c.Stderr = pw, pw
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var out strings.Builder
	sc := bufio.NewScanner(pr)
	stopped := false
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if !stopped && strings.TrimRight(sc.Text(), " ") == "remote:        compiling slowly" {
			stopped = true
			start := time.Now()
			s.stop()
			if took := time.Since(start); took > 40*time.Second {
				t.Errorf("the server took %v to stop during a build", took)
			}
		}
	}
	if err := c.Wait(); err == nil || !stopped {
		t.Fatalf("push: %v, server stopped: %v\n%s", err, stopped, out.String())
	}
	s.start()
	list, raw := s.builds(t, "calm")
	if len(list) != 2 || list[0].Status != "succeeded" || list[1].Status != "failed" || list[1].Release != nil {
		t.Fatalf("builds after a build the server was stopped during: %s", raw)
	}
	got := buildOutput(t, list[1].OutputURL)
	if ls := lines(got); !hasLine(got, "       compiling slowly") || len(ls) < 2 || !strings.HasPrefix(ls[len(ls)-1], " !     ") && !strings.HasPrefix(ls[len(ls)-1], "-----> Build failed: ") {
		t.Errorf("the stopped build's output:\n%s", got)
	}
	t.Logf("the stopped build's output:\n%s", got)
	s.waitBody(t, "calm", "hello from procfile")
	if rels := s.hako(t, "releases", "-a", "calm"); !currentRelease(rels, 2) {
		t.Errorf("the current release moved:\n%s", rels)
	}
}

// TestBuildsPerAppBounded: an app keeps its last 100 builds; past them
// the oldest go, with their output files and output URLs, and another
// app's builds stay.
func TestBuildsPerAppBounded(t *testing.T) {
	s, dir := moodyApp(t, "many")
	s.hako(t, "apps:create", "other")
	s.hako(t, "buildpacks:set", "moody", "-a", "other")
	if out, err := s.push(dir, s.key, "other", "main"); err != nil || !released(out, 2) {
		t.Fatalf("push to other: %v\n%s", err, out)
	}
	first, _ := s.builds(t, "many")
	commitFile(t, dir, "mood", "fail\n")
	start := time.Now()
	for i := range 100 {
		if i > 0 {
			git(t, dir, "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("failing build %d", i))
		}
		if out, err := s.push(dir, s.key, "many", "main"); err == nil || !hasRemoteLine(out, "       failing on purpose") {
			t.Fatalf("push %d: %v\n%s", i, err, out)
		}
	}
	t.Logf("100 failing pushes took %v", time.Since(start))
	list, raw := s.builds(t, "many")
	if len(list) != 100 || list[0].ID == first[0].ID {
		t.Fatalf("%d builds kept, the first %s (the oldest was %s), want the last 100", len(list), list[0].ID, first[0].ID)
	}
	for _, b := range list {
		if b.Status != "failed" {
			t.Fatalf("a kept build is not one of the failing ones: %s", raw)
		}
	}
	files, _ := filepath.Glob(filepath.Join(s.home, "builds", "*", "*.log"))
	if len(files) != 101 { // 100 of many's, 1 of other's
		t.Errorf("%d build output files, want 101", len(files))
	}
	resp, err := http.Get(first[0].OutputURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("a forgotten build's output answers %d, want 404", resp.StatusCode)
	}
	if others, _ := s.builds(t, "other"); len(others) != 1 || others[0].Status != "succeeded" {
		t.Errorf("other's builds: %v", others)
	}
}

// jsonEqual reports whether two JSON texts hold the same value.
func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
