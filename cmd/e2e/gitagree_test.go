package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// slowProcfile serves index.html and has a release phase that takes a
// second, so that two pushes started together overlap for sure.
const slowProcfile = "web: python3 -m http.server $PORT\nrelease: sleep 1\n"

var releasedRe = regexp.MustCompile(`(?m)^remote:        Released v(\d+)\s*$`)

// releasedVersion returns the version a push output says went live, 0 if
// none.
func releasedVersion(out string) int {
	m := releasedRe.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

// releaseInfo is the app's current release as releases:info reports it.
type releaseInfo struct {
	Version int    `json:"version"`
	Status  string `json:"status"`
	Commit  string `json:"commit"`
}

// agreement fails the test unless the live body, the main branch as
// `git ls-remote` shows it and the current release all name the same
// commit (want, whose index.html holds body), and returns the release.
func (s *server) agreement(t *testing.T, app, dir, want, body string) releaseInfo {
	t.Helper()
	c := exec.Command("git", "ls-remote", fmt.Sprintf("ssh://git@127.0.0.1:%s/%s.git", s.sshPort, app), "refs/heads/main")
	c.Dir, c.Env = dir, append(os.Environ(), "GIT_SSH_COMMAND="+s.sshCommand(s.key))
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("git ls-remote: %v\n%s", err, out)
	}
	if got := string(out); got != want+"\trefs/heads/main\n" {
		t.Errorf("git ls-remote: %q, want main at %s", got, want)
	}
	var cur releaseInfo
	if err := json.Unmarshal([]byte(s.hako(t, "releases:info", "-a", app, "--json")), &cur); err != nil {
		t.Fatal(err)
	}
	if cur.Commit != want || cur.Status != "succeeded" {
		t.Errorf("current release %+v, want commit %s succeeded", cur, want)
	}
	if code, got, err := s.get(app, "/"); code != 200 || got != body {
		t.Errorf("live / = %d %q %v, want %q", code, got, err, body)
	}
	return cur
}

// hasPaddedLine reports whether out has a line that is exactly want once
// the spaces git pads its remote: lines with are trimmed.
func hasPaddedLine(out, want string) bool {
	for _, l := range lines(out) {
		if strings.TrimRight(l, " ") == want {
			return true
		}
	}
	return false
}

// sampler polls an app's / and records each body it serves, in order.
type sampler struct {
	mu     sync.Mutex
	bodies []string
	stop   chan struct{}
	done   chan struct{}
}

func (s *server) sample(app string) *sampler {
	sm := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sm.done)
		for {
			select {
			case <-sm.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if code, body, err := s.get(app, "/"); err == nil && code == 200 {
				sm.mu.Lock()
				if n := len(sm.bodies); n == 0 || sm.bodies[n-1] != body {
					sm.bodies = append(sm.bodies, body)
				}
				sm.mu.Unlock()
			}
		}
	}()
	return sm
}

func (sm *sampler) finish() []string {
	close(sm.stop)
	<-sm.done
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.bodies
}

// TestConcurrentPushesAgreeWithGit pushes different commits from two
// clones at the same moment, five times: each time the live release, the
// main branch and the current release agree, a push refused for the race
// says why, and a push that printed "Released vN" served until a later
// one printed its own (the live body never goes back, and never shows a
// push that was not released).
func TestConcurrentPushesAgreeWithGit(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "racer")
	a := repo(t, "procfile-app")
	writeFile(t, a, "Procfile", slowProcfile)
	writeFile(t, a, "index.html", "a0\n")
	git(t, a, "commit", "-qam", "a0")
	if out, err := s.push(a, s.key, "racer", "main"); err != nil || releasedVersion(out) != 2 {
		t.Fatalf("first push: %v\n%s", err, out)
	}
	b := t.TempDir()
	git(t, b, "clone", "-q", a, ".")
	live, liveCommit := "a0\n", strings.TrimSpace(git(t, a, "rev-parse", "HEAD"))
	s.agreement(t, "racer", a, liveCommit, live)
	waited := 0
	for round := 1; round <= 5; round++ {
		type result struct {
			dir, body, commit, out string
			err                    error
		}
		res := []*result{{dir: a}, {dir: b}}
		for i, r := range res {
			r.body = fmt.Sprintf("%c%d\n", 'a'+i, round)
			writeFile(t, r.dir, "index.html", r.body)
			git(t, r.dir, "commit", "-qam", "round "+strconv.Itoa(round))
			r.commit = strings.TrimSpace(git(t, r.dir, "rev-parse", "HEAD"))
		}
		sm := s.sample("racer")
		var wg sync.WaitGroup
		for _, r := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.out, r.err = s.push(r.dir, s.key, "racer", "--force", "main")
			}()
		}
		wg.Wait()
		served := sm.finish()

		var winners []*result
		for _, r := range res {
			v := releasedVersion(r.out)
			if v == 0 {
				if r.err == nil {
					t.Errorf("round %d: a push neither released nor failed:\n%s", round, r.out)
				}
				continue
			}
			if r.err != nil {
				t.Errorf("round %d: push printed Released v%d but failed: %v\n%s", round, v, r.err, r.out)
			}
			winners = append(winners, r)
		}
		if len(winners) == 0 {
			t.Fatalf("round %d: neither push was released:\n%s\n---\n%s", round, res[0].out, res[1].out)
		}
		if len(winners) == 2 && releasedVersion(winners[0].out) > releasedVersion(winners[1].out) {
			winners[0], winners[1] = winners[1], winners[0]
		}
		last := winners[len(winners)-1]
		for _, r := range res {
			if releasedVersion(r.out) != 0 {
				continue
			}
			// The loser waited for the winner's deploy, then was refused
			// because main had moved.
			w := "remote: waiting for the deploy of " + last.commit[:7] + " to finish"
			if hasPaddedLine(r.out, w) {
				waited++
			}
			if !hasPaddedLine(r.out, "remote:  !     main moved to "+last.commit[:7]+" while this push waited: fetch, merge and push again.") {
				t.Errorf("round %d: the refused push does not say why:\n%s", round, r.out)
			}
		}
		// What was served: the previous release, then the released pushes
		// in the order they printed Released, nothing else, never back.
		want := []string{live}
		for _, w := range winners {
			want = append(want, w.body)
		}
		if !isSubsequence(served, want) {
			t.Errorf("round %d: served %q, want an ordered part of %q", round, served, want)
		}
		cur := s.agreement(t, "racer", a, last.commit, last.body)
		if cur.Version != releasedVersion(last.out) {
			t.Errorf("round %d: current release v%d, but the last push printed Released v%d", round, cur.Version, releasedVersion(last.out))
		}
		live, liveCommit = last.body, last.commit
	}
	if waited == 0 {
		t.Errorf("in five rounds no push waited for the other's deploy")
	}
	t.Logf("%d of 5 rounds had a push wait for the other", waited)
}

// isSubsequence reports whether got starts with want[0] and lists only
// elements of want, in want's order.
func isSubsequence(got, want []string) bool {
	if len(got) == 0 || got[0] != want[0] {
		return len(got) == 0
	}
	i := 0
	for _, g := range got {
		for i < len(want) && want[i] != g {
			i++
		}
		if i == len(want) {
			return false
		}
	}
	return true
}

// TestKillDuringLaunching kills the server with SIGKILL while a push is
// launching its release (as soon as it says Launching, before the release
// is recorded, and during its release phase, after), then starts it again
// on the same HAKO_HOME: the push failed, git's main still holds the old
// commit, the old release is current and serving, and the app's log says
// what happened to the interrupted release. The same commit pushed again
// goes live.
func TestKillDuringLaunching(t *testing.T) {
	need(t, "python3")
	for _, c := range []struct {
		name, killAt string
		// recorded says whether the release was surely written before
		// the kill. At Launching the kill races the write: either way
		// must end in agreement, and a written release must be failed.
		recorded bool
	}{
		{"at Launching", "remote: -----> Launching...", false},
		{"in the release phase", "remote: -----> Running release command...", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t)
			s.hako(t, "apps:create", "killed")
			dir := repo(t, "procfile-app")
			writeFile(t, dir, "Procfile", "web: python3 -m http.server $PORT\nrelease: sleep 2\n")
			writeFile(t, dir, "index.html", "old\n")
			git(t, dir, "commit", "-qam", "old")
			if out, err := s.push(dir, s.key, "killed", "main"); err != nil {
				t.Fatalf("push: %v\n%s", err, out)
			}
			old := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
			s.agreement(t, "killed", dir, old, "old\n")
			writeFile(t, dir, "index.html", "new\n")
			git(t, dir, "commit", "-qam", "new")
			neu := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))

			out := s.pushKilledAt(t, dir, "killed", c.killAt)
			s.start()
			s.waitPath(t, "killed", "/", "old\n")
			s.agreement(t, "killed", dir, old, "old\n")
			logs := s.hako(t, "logs", "-a", "killed")
			want := "app[api]: Release v3 (Deploy " + neu[:7] + ") marked failed: the server stopped before it went live"
			written := hasLineMatch(logs, `\S+ `+regexp.QuoteMeta(want))
			if c.recorded && !written {
				t.Errorf("logs do not say %q:\n%s\npush:\n%s", want, logs, out)
			}
			next := 3
			if written {
				if info := s.hako(t, "releases:info", "v3", "-a", "killed", "--json"); !strings.Contains(info, `"status": "failed"`) {
					t.Errorf("v3 not failed:\n%s", info)
				}
				next = 4
			}
			if out, err := s.push(dir, s.key, "killed", "main"); err != nil || releasedVersion(out) != next {
				t.Fatalf("push again: %v\n%s", err, out)
			}
			s.agreement(t, "killed", dir, neu, "new\n")
		})
	}
}

// pushKilledAt pushes dir's main to app and kills the server with SIGKILL
// as soon as the push prints the line killAt; the push must fail.
func (s *server) pushKilledAt(t *testing.T, dir, app, killAt string) string {
	t.Helper()
	return s.pushSignaledAt(t, dir, app, killAt, syscall.SIGKILL)
}

// pushSignaledAt is pushKilledAt with sig for the server (SIGINT: a
// graceful stop).
func (s *server) pushSignaledAt(t *testing.T, dir, app, killAt string, sig syscall.Signal) string {
	t.Helper()
	c := exec.Command("git", "push", fmt.Sprintf("ssh://git@127.0.0.1:%s/%s.git", s.sshPort, app), "main")
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
	killed := false
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if !killed && strings.TrimRight(sc.Text(), " ") == killAt {
			if err := s.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			<-s.done
			killed = true
		}
	}
	if err := c.Wait(); err == nil || !killed {
		t.Fatalf("push: %v, server killed: %v:\n%s", err, killed, out.String())
	}
	// git-receive-pack died with the server: left running, it could move
	// the branch after the next start has settled the release.
	repo := s.home + "/repos/" + app + ".git"
	waitFor(t, 5*time.Second, "git-receive-pack to die with the server", func() bool { return len(processesWithArg(repo)) == 0 },
		func() string { return fmt.Sprint(processesWithArg(repo)) })
	return out.String()
}

// processesWithArg returns the pids of running processes that have arg
// as one of their arguments.
func processesWithArg(arg string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if a == arg {
				pids = append(pids, e.Name())
				break
			}
		}
	}
	return pids
}

// TestSourceVersion checks that buildpacks see the pushed commit as
// SOURCE_VERSION, though the checkout they build has no .git.
func TestSourceVersion(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	pack := s.home + "/buildpacks/showver/bin"
	for name, body := range map[string]string{
		"detect":  "#!/bin/sh\necho ShowVersion\n",
		"compile": "#!/bin/sh\necho \"       SOURCE_VERSION=$SOURCE_VERSION\"\n",
		"release": "#!/bin/sh\necho '--- {}'\n",
	} {
		if err := os.MkdirAll(pack, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pack+"/"+name, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.hako(t, "apps:create", "versioned")
	s.hako(t, "buildpacks:set", "showver", "-a", "versioned")
	dir := repo(t, "procfile-app")
	out, err := s.push(dir, s.key, "versioned", "main")
	commit := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	if err != nil || !hasPaddedLine(out, "remote:        SOURCE_VERSION="+commit) {
		t.Fatalf("push: %v, want SOURCE_VERSION=%s:\n%s", err, commit, out)
	}
}

// TestPostReceiveMissed checks the other way a release is settled: when
// git moves the branch but its post-receive hook cannot reach the server
// (its socket is gone here), the server settles the release once
// git-receive-pack ends, by reading the branch: the release goes live and
// the three still agree.
func TestPostReceiveMissed(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "missed")
	dir := repo(t, "procfile-app")
	writeFile(t, dir, "Procfile", slowProcfile)
	writeFile(t, dir, "index.html", "old\n")
	git(t, dir, "commit", "-qam", "old")
	if out, err := s.push(dir, s.key, "missed", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	writeFile(t, dir, "index.html", "new\n")
	git(t, dir, "commit", "-qam", "new")
	neu := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))

	c := exec.Command("git", "push", fmt.Sprintf("ssh://git@127.0.0.1:%s/missed.git", s.sshPort), "main")
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
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.TrimRight(sc.Text(), " ") == "remote: -----> Launching..." {
			// The pre-receive hook is connected already; post-receive will
			// find no socket.
			if err := os.Remove(s.home + "/hook.sock"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}
	if !hasPaddedLine(out.String(), "       Released v3") ||
		!hasLineMatch(out.String(), `remote:  !     Cannot reach the hako server to put this push live \(.+\); it settles the release when the push ends, or at its next start\.\s*`) {
		t.Errorf("the push does not say that post-receive failed and the release went live all the same:\n%s", out.String())
	}
	s.agreement(t, "missed", dir, neu, "new\n")
}
