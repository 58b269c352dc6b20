package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestRestartNever404 restarts the server (SIGINT, then SIGKILL) on the
// same HAKO_HOME and requests a known app from the moment the router's
// port accepts: every answer is 503 (dynos starting) until it is 200,
// never the unknown-app 404.
func TestRestartNever404(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "steady")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "steady", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "steady", "hello from procfile")
	for _, kill := range []bool{false, true, false} {
		if kill {
			_ = s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.done
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		} else {
			s.stop()
		}
		s.spawn()
		seen := map[int]int{}
		client := &http.Client{Timeout: 5 * time.Second}
		deadline := time.Now().Add(30 * time.Second)
		for seen[200] == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no 200 within 30 s of a restart (kill=%v); statuses %v\n%s", kill, seen, s.out.String())
			}
			req, _ := http.NewRequest("GET", "http://127.0.0.1:"+s.httpPort+"/", nil)
			req.Host = "steady.localhost"
			resp, err := client.Do(req)
			if err != nil {
				continue // not listening yet: try again at once
			}
			resp.Body.Close()
			seen[resp.StatusCode]++
			if resp.StatusCode != 200 && resp.StatusCode != 503 {
				t.Fatalf("a known app answered %d during a restart (kill=%v), want 503 then 200; statuses so far %v", resp.StatusCode, kill, seen)
			}
		}
		t.Logf("restart (kill=%v): statuses %v", kill, seen)
		waitFor(t, 20*time.Second, "server.json", func() bool {
			_, err := os.Stat(filepath.Join(s.home, "server.json"))
			return err == nil
		})
	}
}

// TestOneOffRightAfterStart runs a one-off dyno that uses its database
// as soon as the server's ports open, several times: the add-on servers
// are up before any dyno starts, so it never meets "the database system
// is starting up".
func TestOneOffRightAfterStart(t *testing.T) {
	need(t, "python3", "psql")
	s := startServer(t)
	s.hako(t, "apps:create", "eager")
	if out, err := s.push(repo(t, "env-app"), s.key, "eager", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "eager")
	for i := 0; i < 4; i++ {
		if i%2 == 0 {
			s.stop()
		} else {
			_ = s.cmd.Process.Signal(syscall.SIGKILL)
			<-s.done
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			// What a killed server leaves must not send the client to it.
			_ = os.Remove(filepath.Join(s.home, "server.json"))
		}
		s.spawn()
		waitFor(t, 20*time.Second, "server.json", func() bool {
			_, err := os.Stat(filepath.Join(s.home, "server.json"))
			return err == nil
		}, s.out.String)
		out, err := s.run("run", "-a", "eager", "--no-tty", `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -tAc 'select 6 * 7'`)
		if err != nil || !hasLine(out, "42") || len(lines(out)) != 2 {
			t.Fatalf("one-off right after start %d: %v\n%s", i+1, err, out)
		}
		if !hasLineMatch(out, fmt.Sprintf(`Running psql .* on ⬢ eager\.\.\. up, run\.\d+`)) {
			t.Errorf("one-off output:\n%s", out)
		}
	}
}
