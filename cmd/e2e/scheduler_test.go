package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// jobIDOf returns the job ID in scheduler:add's output.
func jobIDOf(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Added job ([0-9a-f]{8}) to ⬢ `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("scheduler:add said:\n%s", out)
	}
	return m[1]
}

// TestScheduler runs app.json's cron job and hand-added ones in
// scheduler.NNNN one-off dynos, logged as Heroku logs them; a run that
// outlives its interval is not started twice; jobs are managed through
// the CLI and over SSH and survive a restart; a deploy replaces the
// declared jobs and keeps the hand-added ones.
func TestScheduler(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "timed")
	dir := appRepo(t, map[string]string{
		"Procfile":  "web: python3 server.py\n",
		"server.py": pyServer,
		"app.json":  `{"cron": [{"command": "echo declared-run $HEROKU_RELEASE_VERSION", "schedule": "@every 2s"}]}`,
	})
	if out, err := s.push(dir, s.key, "timed", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	logs := func() string { return s.hako(t, "logs", "-a", "timed", "-n", "1500") }
	waitFor(t, 20*time.Second, "two runs of the declared job", func() bool {
		l := logs()
		return len(regexp.MustCompile(`(?m)^\S+ app\[scheduler\.\d+\]: declared-run v2$`).FindAllString(l, -1)) >= 2
	}, logs)
	l := logs()
	for _, re := range []string{
		"\\S+ heroku\\[scheduler\\.\\d+\\]: Starting process with command `echo declared-run \\$HEROKU_RELEASE_VERSION`",
		`\S+ heroku\[scheduler\.\d+\]: State changed from starting to up`,
		`\S+ heroku\[scheduler\.\d+\]: Process exited with status 0`,
		`\S+ heroku\[scheduler\.\d+\]: State changed from up to complete`,
	} {
		if !hasLineMatch(l, re) {
			t.Errorf("logs lack %s:\n%s", re, l)
		}
	}

	// A job that outlives its interval is skipped, not started twice.
	slow := jobIDOf(t, s.hako(t, "scheduler:add", "-a", "timed", "--schedule", "every 1s", "--", "sleep", "3", "&&", "echo", "slow-done"))
	waitFor(t, 20*time.Second, "a skipped run", func() bool {
		return hasLineMatch(logs(), `\S+ heroku\[scheduler\]: Skipping a run of job `+slow+" \\(`sleep 3 && echo slow-done`\\): its run on scheduler\\.\\d+ is still going")
	}, logs)
	waitFor(t, 20*time.Second, "the slow run to end", func() bool {
		return hasLineMatch(logs(), `\S+ app\[scheduler\.\d+\]: slow-done`)
	}, logs)
	if n := len(regexp.MustCompile(`(?m)^\S+ app\[scheduler\.\d+\]: slow-done$`).FindAllString(logs(), -1)); n > 1 {
		// Two would mean two runs overlapped: each takes 3 s.
		runs := regexp.MustCompile(`(?m)^\S+ heroku\[scheduler\.\d+\]: Starting process with command .sleep 3.*$`).FindAllString(logs(), -1)
		if len(runs) > n+1 {
			t.Errorf("runs of the slow job overlapped: %d started, %d done", len(runs), n)
		}
	}

	// The list shows both; the declared one says so.
	list := s.hako(t, "scheduler", "-a", "timed")
	if !hasLineMatch(list, `[0-9a-f]{8}\s+@every 2s \(app\.json\)\s+echo declared-run \$HEROKU_RELEASE_VERSION\s+\S+\s+.*`) ||
		!hasLineMatch(list, slow+`\s+every 1s\s+sleep 3 && echo slow-done\s+\S+\s+.*`) {
		t.Fatalf("scheduler:\n%s", list)
	}
	s.hako(t, "scheduler:remove", "-a", "timed", slow)
	if list := s.hako(t, "scheduler", "-a", "timed"); strings.Contains(list, slow) {
		t.Fatalf("scheduler after remove:\n%s", list)
	}
	if out, err := s.run("scheduler:remove", "-a", "timed", slow); err == nil || !hasLine(out, " ▸    No scheduler job "+slow+" on timed: `hako scheduler -a timed` lists them.") {
		t.Errorf("removing it twice: %v\n%s", err, out)
	}
	if out, err := s.run("scheduler:add", "-a", "timed", "--schedule", "every ten minutes", "--", "true"); err == nil ||
		!hasLine(out, ` ▸    Schedule "every ten minutes" is not valid (the interval is not a duration such as 10m): give a cron line such as "*/10 * * * *", @hourly, @daily or "every 10m".`) {
		t.Errorf("a bad schedule: %v\n%s", err, out)
	}

	// Over SSH: add, list, run now, remove.
	out, err := s.ssh(s.key, nil, "scheduler:add", "-a", "timed", "--schedule", "@daily", "--", "echo", "by-hand")
	if err != nil {
		t.Fatalf("ssh scheduler:add: %v\n%s", err, out)
	}
	daily := jobIDOf(t, out)
	if out, err := s.ssh(s.key, nil, "scheduler", "-a", "timed"); err != nil || !hasLineMatch(out, daily+`\s+@daily\s+echo by-hand\s+\d{4}-\d\d-\d\dT00:00:00Z\s+never`) {
		t.Fatalf("ssh scheduler: %v\n%s", err, out)
	}
	if out, err := s.ssh(s.key, nil, "scheduler:run", "-a", "timed", daily); err != nil || !hasLineMatch(out, `Running job `+daily+` on ⬢ timed\.\.\. up, scheduler\.\d+`) {
		t.Fatalf("ssh scheduler:run: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "the run now", func() bool { return hasLineMatch(logs(), `\S+ app\[scheduler\.\d+\]: by-hand`) }, logs)
	waitFor(t, 20*time.Second, "its exit status in the list", func() bool {
		return hasLineMatch(s.hako(t, "scheduler", "-a", "timed"), daily+`\s+@daily\s+echo by-hand\s+\S+\s+\S+ \(exit 0\)`)
	})
	other := jobIDOf(t, s.hako(t, "scheduler:add", "-a", "timed", "--schedule", "*/10 * * * *", "--", "echo", "kept"))
	if out, err := s.ssh(s.key, nil, "scheduler:remove", "-a", "timed", daily); err != nil || !hasLine(out, "Removed job "+daily+" from ⬢ timed") {
		t.Fatalf("ssh scheduler:remove: %v\n%s", err, out)
	}

	// Jobs survive a restart; a deploy replaces the declared ones only.
	s.stop()
	s.start()
	commitFile(t, dir, "app.json", `{"cron": [{"command": "echo second", "schedule": "@hourly"}]}`)
	if out, err := s.push(dir, s.key, "timed", "main"); err != nil {
		t.Fatalf("second push: %v\n%s", err, out)
	}
	list = s.hako(t, "scheduler", "-a", "timed")
	if !hasLineMatch(list, other+`\s+\*/10 \* \* \* \*\s+echo kept\s+.*`) || !hasLineMatch(list, `[0-9a-f]{8}\s+@hourly \(app\.json\)\s+echo second\s+.*`) ||
		strings.Contains(list, "declared-run") || len(lines(list)) != 4 {
		t.Fatalf("scheduler after a restart and a deploy:\n%s", list)
	}
}
