package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// token is the server's API token.
func (s *server) token(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// caFile is the local CA's certificate, as `hako ca:path` prints it.
func (s *server) caFile(t *testing.T) string {
	t.Helper()
	return strings.TrimSpace(s.hako(t, "ca:path"))
}

// tlsClient is an HTTP client that trusts only the server's CA and dials
// 127.0.0.1 whatever the host (APP.localhost), sending the host as SNI.
func (s *server) tlsClient(t *testing.T) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(s.caFile(t))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("ca:path holds no certificate")
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return dialer.DialContext(ctx, network, "127.0.0.1:"+port)
		},
	}}
}

func fetch(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLocalCA: the first start makes a CA in HAKO_HOME (key private,
// certificate readable) that `hako ca:path` names, and the API port
// answers plain HTTP and HTTPS alike, to Go and to curl (OpenSSL)
// trusting that CA, with the token as Bearer or as Basic password.
func TestLocalCA(t *testing.T) {
	need(t, "curl")
	s := startServer(t)
	ca := s.caFile(t)
	if ca != filepath.Join(s.home, "ca.pem") {
		t.Fatalf("ca:path = %q", ca)
	}
	for name, mode := range map[string]os.FileMode{"ca.pem": 0o644, "ca-key.pem": 0o600, "tls-cert.pem": 0o644, "tls-key.pem": 0o600} {
		st, err := os.Stat(filepath.Join(s.home, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	tok := s.token(t)
	c := s.tlsClient(t)
	for _, scheme := range []string{"https", "http"} {
		req, _ := http.NewRequest("GET", scheme+"://127.0.0.1:"+s.apiPort+"/account", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if code, body := fetch(t, c, req); code != 200 || !strings.Contains(body, `"email"`) {
			t.Errorf("%s GET /account: %d %s", scheme, code, body)
		}
		req, _ = http.NewRequest("GET", scheme+"://127.0.0.1:"+s.apiPort+"/apps", nil)
		req.SetBasicAuth("heroku", tok)
		if code, body := fetch(t, c, req); code != 200 {
			t.Errorf("%s GET /apps with Basic: %d %s", scheme, code, body)
		}
		req, _ = http.NewRequest("GET", scheme+"://127.0.0.1:"+s.apiPort+"/apps", nil)
		req.SetBasicAuth("heroku", "not-the-token")
		if code, _ := fetch(t, c, req); code != 401 {
			t.Errorf("%s GET /apps with a wrong Basic password: %d, want 401", scheme, code)
		}
	}
	// hako's own client, given an https:// URL, trusts its home's CA.
	list := exec.Command(bin, "apps")
	list.Env = append(os.Environ(), "HAKO_HOME="+s.home, "HAKO_API_URL=https://127.0.0.1:"+s.apiPort, "HAKO_API_TOKEN="+tok)
	if out, err := list.CombinedOutput(); err != nil {
		t.Errorf("hako apps over HTTPS: %v\n%s", err, out)
	}
	out, err := exec.Command("curl", "-sS", "--cacert", ca, "-H", "Authorization: Bearer "+tok, "https://127.0.0.1:"+s.apiPort+"/apps").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "[]" {
		t.Errorf("curl over HTTPS: %v: %s", err, out)
	}
	// Without the CA, curl refuses the certificate.
	if out, err := exec.Command("curl", "-sS", "https://127.0.0.1:"+s.apiPort+"/apps").CombinedOutput(); err == nil {
		t.Errorf("curl without the CA accepted the certificate: %s", out)
	}

	// A restart keeps the CA the user trusts, and its certificate.
	before, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := os.ReadFile(filepath.Join(s.home, "tls-cert.pem"))
	s.stop()
	s.start()
	after, _ := os.ReadFile(ca)
	leafAfter, _ := os.ReadFile(filepath.Join(s.home, "tls-cert.pem"))
	if string(after) != string(before) || string(leafAfter) != string(leaf) {
		t.Error("a restart made a new CA or certificate")
	}
	if out, err := exec.Command("curl", "-sS", "--cacert", ca, "-H", "Authorization: Bearer "+tok, "https://127.0.0.1:"+s.apiPort+"/apps").CombinedOutput(); err != nil {
		t.Errorf("curl over HTTPS after a restart: %v: %s", err, out)
	}
}

// TestRouterHTTPS: the router serves https://APP.localhost on its HTTPS
// port with a certificate from the local CA that Go and curl (which
// refuse *.localhost) accept, telling the app X-Forwarded-Proto: https
// and the port; the HTTP port keeps saying http. A custom domain outside
// the CA's name constraints gets no certificate of its own, nor does a
// host no app has.
func TestRouterHTTPS(t *testing.T) {
	need(t, "curl")
	s := startServer(t)
	s.hako(t, "apps:create", "secure")
	if out, err := s.push(repo(t, "env-app"), s.key, "secure", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "secure", "env-app")
	c := s.tlsClient(t)
	base := "https://secure.localhost:" + s.httpsPort
	for path, want := range map[string]string{"/header/X-Forwarded-Proto": "https", "/header/X-Forwarded-Port": s.httpsPort, "/": "env-app"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		if code, body := fetch(t, c, req); code != 200 || body != want {
			t.Errorf("GET %s%s: %d %q, want 200 %q", base, path, code, body, want)
		}
	}
	if _, body, _ := s.get("secure", "/header/X-Forwarded-Proto"); body != "http" {
		t.Errorf("over HTTP, X-Forwarded-Proto: %q", body)
	}
	out, err := exec.Command("curl", "-sS", "--cacert", s.caFile(t), "--resolve", "secure.localhost:"+s.httpsPort+":127.0.0.1", base+"/header/X-Forwarded-Proto").CombinedOutput()
	if err != nil || string(out) != "https" {
		t.Errorf("curl https://secure.localhost: %v: %s", err, out)
	}
	// A custom domain outside the local CA's name constraints gets none:
	// the CA signs for localhost and the domain only.
	s.hako(t, "domains:add", "-a", "secure", "www.secure.test")
	out, err = exec.Command("curl", "-sS", "--cacert", s.caFile(t), "--resolve", "www.secure.test:"+s.httpsPort+":127.0.0.1", "https://www.secure.test:"+s.httpsPort+"/").CombinedOutput()
	if err == nil {
		t.Errorf("curl accepted a certificate for a custom domain outside the CA's constraints: %s", out)
	}
	out, err = exec.Command("curl", "-sS", "--cacert", s.caFile(t), "--resolve", "www.other.test:"+s.httpsPort+":127.0.0.1", "https://www.other.test:"+s.httpsPort+"/").CombinedOutput()
	if err == nil {
		t.Errorf("curl accepted a certificate for a host no app has: %s", out)
	}
	if !hasLineMatch(s.hako(t, "logs", "-a", "secure", "-n", "200"), `^\S+ heroku\[router\]: at=info method=GET path="/header/X-Forwarded-Proto" host=secure\.localhost .* status=200 .* protocol=https$`) {
		t.Errorf("no router line with protocol=https:\n%s", s.hako(t, "logs", "-a", "secure", "-n", "200"))
	}
}

// credentialHelper writes a git credential helper answering
// username=heroku and password, as the heroku CLI's does.
func credentialHelper(t *testing.T, password string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "helper.sh")
	script := fmt.Sprintf("#!/bin/sh\ntest \"$1\" = get || exit 0\necho username=heroku\necho password=%s\n", password)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// gitHTTP runs git with the CA trusted and the helper as the only
// credential source.
func gitHTTP(dir, ca, helper string, args ...string) (string, error) {
	full := append([]string{"-c", "http.sslCAInfo=" + ca, "-c", "credential.helper=", "-c", "credential.helper=" + helper,
		"-c", "user.email=e2e@example.test", "-c", "user.name=e2e"}, args...)
	c := exec.Command("git", full...)
	c.Dir = dir
	// GIT_SSL_CAINFO would override http.sslCAInfo.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_SSL_CAINFO=") {
			c.Env = append(c.Env, kv)
		}
	}
	c.Env = append(c.Env, "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false", "SSH_ASKPASS=/bin/false")
	out, err := c.CombinedOutput()
	return string(out), err
}

// TestGitHTTPS pushes with the real git over HTTPS (as `heroku
// git:remote` sets up) and over plain HTTP on the API's port: the build
// streams back as remote: lines and the release serves; a clone gives
// the code back; a wrong or missing token, an unknown app and paths that
// climb out of the repositories are refused and change nothing.
func TestGitHTTPS(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "overhttps")
	ca, tok := s.caFile(t), s.token(t)
	good, bad := credentialHelper(t, tok), credentialHelper(t, "0123456789abcdef0123456789abcdef")
	dir := repo(t, "procfile-app")
	url := "https://127.0.0.1:" + s.apiPort + "/overhttps.git"

	out, err := gitHTTP(dir, ca, bad, "push", url, "main")
	if err == nil || !hasLineMatch(out, `^fatal: Authentication failed for '`+url+`/'$`) {
		t.Errorf("push with a wrong token: %v\n%s", err, out)
	}
	if rel := s.hako(t, "releases", "-a", "overhttps"); strings.Contains(rel, "Deploy") {
		t.Fatalf("a refused push made a release:\n%s", rel)
	}

	out, err = gitHTTP(dir, ca, good, "push", url, "main")
	if err != nil {
		t.Fatalf("push over HTTPS: %v\n%s", err, out)
	}
	// git pads the server's lines with spaces.
	if !hasLineMatch(out, `remote: -----> Procfile app detected\s*`) || !released(out, 2) {
		t.Errorf("push output lacks the build's lines:\n%s", out)
	}
	if !hasLineMatch(out, `^ \* \[new branch\]\s+main -> main$`) {
		t.Errorf("git did not report the branch:\n%s", out)
	}
	s.waitBody(t, "overhttps", "hello")

	// A second commit, over plain HTTP on the same port.
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("again over http\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "second")
	out, err = gitHTTP(dir, ca, good, "push", "http://127.0.0.1:"+s.apiPort+"/overhttps.git", "main")
	if err != nil || !released(out, 3) {
		t.Fatalf("push over HTTP: %v\n%s", err, out)
	}
	s.waitBody(t, "overhttps", "again over http")
	if builds, raw := s.builds(t, "overhttps"); len(builds) != 2 || builds[1].Status != "succeeded" || builds[1].SourceBlob.Version == nil ||
		*builds[1].SourceBlob.Version != strings.TrimSpace(git(t, dir, "rev-parse", "HEAD")) {
		t.Errorf("the builds of the pushes over HTTPS and HTTP: %s", raw)
	}

	clone := filepath.Join(t.TempDir(), "clone")
	if out, err := gitHTTP(t.TempDir(), ca, good, "clone", "-q", url, clone); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(clone, "index.html")); err != nil || string(b) != "again over http\n" {
		t.Errorf("clone's index.html: %q %v", b, err)
	}

	// Raw requests: no credentials, an unknown app, traversals.
	raw := func(path, user, pass string) (int, string) {
		conn, err := tls.Dial("tcp", "127.0.0.1:"+s.apiPort, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
		if user != "" || pass != "" {
			r, _ := http.NewRequest("GET", "/", nil)
			r.SetBasicAuth(user, pass)
			req += "Authorization: " + r.Header.Get("Authorization") + "\r\n"
		}
		fmt.Fprint(conn, req+"\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	refs := "/overhttps.git/info/refs?service=git-receive-pack"
	if code, www := raw(refs, "", ""); code != 401 || www != `Basic realm="hako"` {
		t.Errorf("no credentials: %d %q, want 401 with Basic realm=\"hako\"", code, www)
	}
	if code, _ := raw(refs, "heroku", "wrong"); code != 401 {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code, _ := raw(refs, "heroku", tok); code != 200 {
		t.Errorf("right token: %d, want 200", code)
	}
	if code, _ := raw(refs, "anyone", tok); code != 200 {
		t.Errorf("any user name with the token: %d, want 200", code)
	}
	for _, path := range []string{
		"/nosuchapp.git/info/refs?service=git-receive-pack",
		"/../overhttps.git/info/refs?service=git-receive-pack",
		"/%2e%2e/overhttps.git/info/refs?service=git-receive-pack",
		"/x/../overhttps.git/info/refs?service=git-receive-pack",
		"/overhttps.git/../../etc.git/info/refs?service=git-receive-pack",
		"/..%2fhako.git/info/refs?service=git-receive-pack",
		"/overhttps.git/HEAD",
		"/overhttps.git/objects/info/packs",
	} {
		if code, _ := raw(path, "heroku", tok); code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
	if code, _ := raw("/overhttps.git/info/refs", "heroku", tok); code != 403 {
		t.Errorf("dumb protocol: %d, want 403", code)
	}
	entries, err := os.ReadDir(filepath.Join(s.home, "repos"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "overhttps.git" {
		t.Errorf("repositories after refused requests: %v", entries)
	}
	rel := s.hako(t, "releases", "-a", "overhttps")
	if got := strings.Count(rel, "Deploy"); got != 2 {
		t.Errorf("%d deploys, want 2:\n%s", got, rel)
	}
}

// TestGitHTTPSLimits: a push over HTTPS is bounded as one over SSH: a
// tree expanding past --max-source is refused by the hook with the same
// sentence, a pack past it by git as it arrives; neither moves the
// branch nor makes a release, and a good push then goes through.
func TestGitHTTPSLimits(t *testing.T) {
	s := startServer(t, "--max-source", "8")
	s.hako(t, "apps:create", "bounded")
	ca, good := s.caFile(t), credentialHelper(t, s.token(t))
	url := "https://127.0.0.1:" + s.apiPort + "/bounded.git"
	mainRef := func() string {
		out, _ := exec.Command("git", "--git-dir", filepath.Join(s.home, "repos", "bounded.git"), "rev-parse", "--verify", "-q", "refs/heads/main").CombinedOutput()
		return strings.TrimSpace(string(out))
	}

	// 32 MiB of zeros: a tiny pack, a tree past the limit.
	dir := repo(t, "procfile-app")
	if err := os.WriteFile(filepath.Join(dir, "zeros"), make([]byte, 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "zeros")
	git(t, dir, "commit", "-qm", "zeros")
	out, err := gitHTTP(dir, ca, good, "push", url, "main")
	want := "remote:  !     Push rejected: the pushed source is too large: it expands to more than 8 MiB (the limit is 8 MiB). Leave out what the build does not need, or raise the server's --max-source."
	if err == nil || !hasLineMatch(out, regexp.QuoteMeta(want)+`\s*`) {
		t.Errorf("push of 32 MiB of zeros: %v\n%s\nwant the line %q", err, out, want)
	}

	// 12 MiB that do not compress: a pack past the limit, refused by git
	// as it arrives.
	dir = repo(t, "procfile-app")
	noise := make([]byte, 12<<20)
	_, _ = rand.Read(noise)
	if err := os.WriteFile(filepath.Join(dir, "noise"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "noise")
	git(t, dir, "commit", "-qm", "noise")
	out, err = gitHTTP(dir, ca, good, "push", url, "main")
	if err == nil || !hasLineMatch(out, `remote: fatal: pack exceeds maximum allowed size \(8\.00 MiB\)\s*`) {
		t.Errorf("push of a 12 MiB pack past an 8 MiB limit: %v\n%s", err, out)
	}
	if ref := mainRef(); ref != "" {
		t.Errorf("refused pushes moved main to %s", ref)
	}
	if out := s.hako(t, "releases", "-a", "bounded"); strings.Contains(out, "Deploy") {
		t.Errorf("a release was made:\n%s", out)
	}

	out, err = gitHTTP(repo(t, "procfile-app"), ca, good, "push", url, "main")
	if err != nil || !released(out, 2) {
		t.Errorf("a push within the limits after the refusals: %v\n%s", err, out)
	}
}
