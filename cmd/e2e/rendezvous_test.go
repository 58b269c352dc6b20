package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// herokuDyno is the Dyno object POST /apps/{app}/dynos answers.
type herokuDyno struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	State   string `json:"state"`
	Command string `json:"command"`
	Size    string `json:"size"`
	App     struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"app"`
	Release struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	} `json:"release"`
	AttachURL *string   `json:"attach_url"`
	CreatedAt time.Time `json:"created_at"`
}

// createDyno makes the request the heroku CLI makes for `heroku run`
// (attach) or `heroku run:detached`, over HTTPS.
func (s *server) createDyno(t *testing.T, c *http.Client, app string, body map[string]any) herokuDyno {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", "https://127.0.0.1:"+s.apiPort+"/apps/"+app+"/dynos", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.token(t))
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	req.Header.Set("Content-Type", "application/json")
	code, out := fetch(t, c, req)
	if code != 201 {
		t.Fatalf("POST /apps/%s/dynos %s: %d %s", app, b, code, out)
	}
	var d herokuDyno
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return d
}

// rendezvous connects as the heroku CLI does: TLS to the attach URL's
// host, the secret and CR LF. It returns the first line and the rest of
// what the server sends until it closes, after sending input.
func rendezvous(t *testing.T, roots *x509.CertPool, attachURL, input string) (first, rest string) {
	t.Helper()
	m := regexp.MustCompile(`^rendezvous://(127\.0\.0\.1:\d+)/([0-9a-f]{64})$`).FindStringSubmatch(attachURL)
	if m == nil {
		t.Fatalf("attach_url %q is not rendezvous://127.0.0.1:PORT/SECRET", attachURL)
	}
	return rendezvousRaw(t, roots, m[1], m[2], input)
}

func rendezvousRaw(t *testing.T, roots *x509.CertPool, addr, secret, input string) (first, rest string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS to the rendezvous: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s\r\n", secret); err != nil {
		t.Fatal(err)
	}
	if input != "" {
		if _, err := io.WriteString(conn, input); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := io.ReadAll(conn)
	first, rest, _ = strings.Cut(string(all), "\r\n")
	if !strings.Contains(string(all), "\r\n") {
		return string(all), ""
	}
	return first + "\r\n", rest
}

// TestHerokuRun speaks `heroku run`'s protocol: POST /apps/{app}/dynos
// with attach answers 201 and a Dyno whose attach_url is a rendezvous
// secret; over TLS trusting the local CA the secret gets one line, then
// the dyno's output (through a terminal when the client sent TERM). The
// CLI's --exit-code suffix reports the command's status; input ends at
// ^D. A wrong or used secret gets nothing; run:detached runs the dyno
// with its output in the logs.
func TestHerokuRun(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "rdv")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "rdv", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	c := s.tlsClient(t)
	pem, err := os.ReadFile(s.caFile(t))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)

	// As the CLI sends it from a terminal: TERM, and numbers for the size.
	d := s.createDyno(t, c, "rdv", map[string]any{"command": "echo hi", "attach": true,
		"env": map[string]any{"TERM": "xterm", "COLUMNS": 120, "LINES": 40}, "size": "basic", "type": "run"})
	if !regexp.MustCompile(`^run\.\d+$`).MatchString(d.Name) || d.Type != "run" || d.State != "starting" || d.Command != "echo hi" ||
		d.App.Name != "rdv" || d.App.ID == "" || d.Release.Version != 2 || d.Release.ID == "" || d.ID == "" || d.Size == "" || d.CreatedAt.IsZero() || d.AttachURL == nil {
		t.Fatalf("dyno: %+v", d)
	}
	// Until its client comes, ps lists the dyno as starting.
	listed := func(name string) string {
		for _, x := range s.dynos(t, "rdv") {
			if x.Name == name {
				return x.State
			}
		}
		return ""
	}
	if st := listed(d.Name); st != "starting" {
		t.Errorf("%s before its client came: %q, want starting", d.Name, st)
	}
	first, rest := rendezvous(t, roots, *d.AttachURL, "")
	if st := listed(d.Name); st != "" {
		t.Errorf("%s after it ran: still listed, %q", d.Name, st)
	}
	if first != "rendezvous\r\n" || rest != "hi\r\n" {
		t.Errorf("echo hi through a terminal: first %q, then %q", first, rest)
	}
	if !hasLineMatch(s.hako(t, "logs", "-a", "rdv"), `\S+ app\[`+regexp.QuoteMeta(d.Name)+`\]: hi`) {
		t.Errorf("no app[%s]: hi in the logs:\n%s", d.Name, s.hako(t, "logs", "-a", "rdv"))
	}
	// The secret was good for one connection.
	if first, rest := rendezvous(t, roots, *d.AttachURL, ""); first != "" || rest != "" {
		t.Errorf("a used secret got %q %q", first, rest)
	}
	// Nor is a made-up one any good.
	addr := strings.TrimPrefix(*d.AttachURL, "rendezvous://")
	addr = addr[:strings.Index(addr, "/")]
	if first, rest := rendezvousRaw(t, roots, addr, strings.Repeat("0", 64), ""); first != "" || rest != "" {
		t.Errorf("a wrong secret got %q %q", first, rest)
	}

	// Through the terminal, what the user types reaches the command (and
	// is echoed back, as a terminal does).
	d = s.createDyno(t, c, "rdv", map[string]any{"command": "read x; echo got-$x", "attach": true, "env": map[string]any{"TERM": "xterm"}})
	if first, rest := rendezvous(t, roots, *d.AttachURL, "typed\r"); first != "rendezvous\r\n" || !hasLine(rest, "typed") || !hasLine(rest, "got-typed") {
		t.Errorf("typing through the terminal: first %q, then %q", first, rest)
	}

	// heroku run --exit-code, no terminal: the CLI's suffix, then ^D.
	cmd := "bash -c 'exit 3' ; echo \"\uFFFF heroku-command-exit-status: $?\""
	d = s.createDyno(t, c, "rdv", map[string]any{"command": cmd, "attach": true, "env": map[string]any{}})
	if first, rest := rendezvous(t, roots, *d.AttachURL, "\x04"); first != "rendezvous\r\n" || rest != "\uFFFF heroku-command-exit-status: 3\n" {
		t.Errorf("--exit-code: first %q, then %q", first, rest)
	}

	// Input reaches the dyno; ^D at the end of a write ends it.
	d = s.createDyno(t, c, "rdv", map[string]any{"command": "tr a-z A-Z", "attach": true, "force_no_tty": true})
	if first, rest := rendezvous(t, roots, *d.AttachURL, "piped input\n\x04"); first != "rendezvous\r\n" || rest != "PIPED INPUT\n" {
		t.Errorf("stdin: first %q, then %q", first, rest)
	}

	// heroku run:detached: no attach, the output goes to the logs.
	d = s.createDyno(t, c, "rdv", map[string]any{"command": "echo detached-$((6*7))"})
	if d.AttachURL != nil || !strings.HasPrefix(d.Name, "run.") {
		t.Fatalf("detached dyno: %+v", d)
	}
	var logs string
	waitFor(t, 30*time.Second, "the detached dyno's output in the logs", func() bool {
		logs = s.hako(t, "logs", "-a", "rdv")
		return hasLineMatch(logs, `\S+ app\[`+regexp.QuoteMeta(d.Name)+`\]: detached-42`)
	}, func() string { return logs })

	// hako's own client over HTTPS: HAKO_API_URL=https://…, trusting the
	// CA of its HAKO_HOME, and `hako run` upgrading through TLS.
	run := exec.Command(bin, "run", "-a", "rdv", "--no-tty", "--", "echo", "via-tls")
	run.Env = append(os.Environ(), "HAKO_HOME="+s.home, "HAKO_API_URL=https://127.0.0.1:"+s.apiPort, "HAKO_API_TOKEN="+s.token(t))
	if out, err := run.CombinedOutput(); err != nil || !hasLine(string(out), "via-tls") {
		t.Errorf("hako run over HTTPS: %v\n%s", err, out)
	}

	// An app without a release has nothing to run.
	s.hako(t, "apps:create", "empty")
	b, _ := json.Marshal(map[string]any{"command": "true", "attach": true})
	req, _ := http.NewRequest("POST", "https://127.0.0.1:"+s.apiPort+"/apps/empty/dynos", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+s.token(t))
	if code, out := fetch(t, c, req); code != 422 {
		t.Errorf("run on an app without a release: %d %s", code, out)
	}
}
