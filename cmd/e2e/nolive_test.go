package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNothingGoesLiveThatCannotStart pushes releases that cannot run while
// a good one serves under load: a Procfile command over 32 KB is refused
// at push time (and by builds:create), and a release whose web dyno exits
// at once or never binds $PORT is refused once its dyno fails, never made
// current. Each time git's main, the current release and the live body
// stay on the good release, and not one request fails.
func TestNothingGoesLiveThatCannotStart(t *testing.T) {
	need(t, "python3")
	s := startServer(t, "--boot-timeout", "2s", "--stop-grace", "2s")
	s.hako(t, "apps:create", "guarded")
	dir := repo(t, "procfile-app")
	writeFile(t, dir, "index.html", "good\n")
	git(t, dir, "commit", "-qam", "good")
	if out, err := s.push(dir, s.key, "guarded", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	good := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	s.agreement(t, "guarded", dir, good, "good\n")

	long := "echo " + strings.Repeat("x", 40<<10) + "; exec python3 -m http.server $PORT"
	for _, c := range []struct {
		name, procfile string
		want           []string // whole lines of the push output
		version        int      // the failed release, 0 when none is written
	}{
		{"a 40 KB command", "web: " + long + "\n", []string{
			fmt.Sprintf(`remote:  !     Procfile line 1: the command of process type "web" is %d bytes; the limit is 32768 (32 KB).`, len(long)),
		}, 0},
		{"a web dyno that exits at once", "web: exit 3\n", []string{
			"remote:  !     Release v3 failed: web.1 crashed before it came up; v2 keeps serving. `hako logs -a guarded` shows why.",
		}, 3},
		{"a web dyno that never binds", "web: exec sleep 600\n", []string{
			"remote:  !     Release v4 failed: web.1 crashed before it came up; v2 keeps serving. `hako logs -a guarded` shows why.",
		}, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			writeFile(t, dir, "Procfile", c.procfile)
			git(t, dir, "commit", "-qam", c.name)
			var out string
			var err error
			s.underLoad(t, "guarded", "pushing "+c.name, func() { out, err = s.push(dir, s.key, "guarded", "main") })
			if err == nil {
				t.Errorf("push accepted:\n%s", out)
			}
			for _, w := range append(c.want, " ! [remote rejected] main -> main (pre-receive hook declined)") {
				if !hasPaddedLine(out, w) {
					t.Errorf("push output lacks the line %q:\n%s", w, out)
				}
			}
			s.agreement(t, "guarded", dir, good, "good\n")
			if c.version > 0 {
				info := s.hako(t, "releases:info", fmt.Sprintf("v%d", c.version), "-a", "guarded", "--json")
				if !strings.Contains(info, `"status": "failed"`) {
					t.Errorf("v%d not marked failed:\n%s", c.version, info)
				}
			}
		})
	}

	// builds:create goes through the same checks.
	b := exec.Command(bin, "builds:create", "-a", "guarded", "--dir", dir)
	b.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	writeFile(t, dir, "Procfile", "web: "+long+"\n")
	out, err := b.CombinedOutput()
	if want := fmt.Sprintf(` !     Procfile line 1: the command of process type "web" is %d bytes; the limit is 32768 (32 KB).`, len(long)); err == nil || !hasPaddedLine(string(out), want) {
		t.Errorf("builds:create of a 40 KB command: %v, want the line %q:\n%s", err, want, out)
	}
	s.agreement(t, "guarded", dir, good, "good\n")
}
