package sshgit

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"hako/engine"
)

// Git's smart HTTP protocol, served on the API's port (plain and TLS), so
// that the remote `heroku git:remote` writes, https://HOST:PORT/APP.git,
// pushes and clones as Heroku's git.heroku.com does: Basic
// authentication with the API token as the password (any user name;
// Heroku's helper sends "heroku"), then git-receive-pack or
// git-upload-pack run statelessly, one HTTP request per round. A push
// takes the same path as one over SSH (beginPush, the same hooks, the
// same limits), and its build streams back as `remote:` lines through
// git's sideband.

// gitPathRe matches the three paths of the protocol; anything else under
// a .git path, a traversal included, is not found.
var gitPathRe = regexp.MustCompile(`^/([^/]+)\.git/(info/refs|git-upload-pack|git-receive-pack)$`)

// IsGitPath reports whether an API request is for git, to be sent to
// GitHTTP rather than the API: a path whose first element ends in .git,
// or one ending as git's requests do (/../x.git/info/refs), which GitHTTP
// then refuses.
func IsGitPath(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if strings.HasSuffix(first, ".git") {
		return true
	}
	for _, end := range []string{"/info/refs", "/git-upload-pack", "/git-receive-pack"} {
		if strings.HasSuffix(path, end) {
			return true
		}
	}
	return false
}

const (
	// gitIdleTimeout drops a client that sends nothing of its request body
	// for this long: a stalled push must not hold its connection for ever.
	gitIdleTimeout = time.Minute
	// maxUploadRequest bounds what a fetch or clone may send (its wants
	// and haves), decompressed.
	maxUploadRequest = 64 << 20
)

// GitHTTP returns the handler of git's smart HTTP protocol. authorize
// checks the Basic password and names the user pushes are made by.
func (s *Server) GitHTTP(authorize func(password string) (user string, ok bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, hasAuth := r.BasicAuth()
		user, ok := "", false
		if hasAuth {
			user, ok = authorize(pass)
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="hako"`)
			http.Error(w, "Invalid credentials: give the hako API token (HAKO_HOME/api-token) as the password, with any user name.", http.StatusUnauthorized)
			return
		}
		m := gitPathRe.FindStringSubmatch(r.URL.Path)
		if m == nil || engine.ValidateAppName(m[1]) != nil {
			http.Error(w, "Not found: git repositories are at /APP.git.", http.StatusNotFound)
			return
		}
		name, what := m[1], m[2]
		var service string
		switch {
		case what == "info/refs" && r.Method == http.MethodGet:
			service = r.URL.Query().Get("service")
		case what != "info/refs" && r.Method == http.MethodPost:
			service = what
		default:
			http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
			return
		}
		if service != "git-upload-pack" && service != "git-receive-pack" {
			// The dumb protocol would serve the repository's files.
			http.Error(w, "Only git's smart HTTP protocol is served: use git 1.6.6 or later.", http.StatusForbidden)
			return
		}
		repo, err := s.openRepo(user, name)
		if err != nil {
			status := http.StatusInternalServerError
			switch engine.ErrorCode(err) {
			case engine.ENOTFOUND:
				status = http.StatusNotFound
			case engine.EFORBIDDEN:
				status = http.StatusForbidden
			}
			http.Error(w, engine.ErrorMessage(err), status)
			return
		}
		if what == "info/refs" {
			s.advertise(w, r, repo, service)
			return
		}
		s.rpc(w, r, name, user, repo, service)
	})
}

// advertise answers GET info/refs: the refs and capabilities, after the
// service line git expects from a smart server (protocol v2 has none).
func (s *Server) advertise(w http.ResponseWriter, r *http.Request, repo, service string) {
	w.Header().Set("Content-Type", "application/x-"+service+"-advertisement")
	w.Header().Set("Cache-Control", "no-cache")
	proto := gitProtocol(r)
	if proto != "version=2" || service != "git-upload-pack" {
		line := "# service=" + service + "\n"
		fmt.Fprintf(w, "%04x%s0000", len(line)+4, line)
	}
	cmd := exec.Command("git", strings.TrimPrefix(service, "git-"), "--stateless-rpc", "--advertise-refs", repo)
	cmd.Env = append(os.Environ(), "GIT_PROTOCOL="+proto)
	var stderr strings.Builder
	if code := runWired(cmd, http.NoBody, w, &stderr, func() {}); code != 0 {
		s.logf("git http: advertise %s of %s: exit %d: %s", service, repo, code, strings.TrimSpace(stderr.String()))
	}
}

// rpc answers POST git-upload-pack or git-receive-pack: the request body
// goes to git, git's answer streams back as it comes (the build's output
// in sideband packets among it).
func (s *Server) rpc(w http.ResponseWriter, r *http.Request, app, user, repo, service string) {
	if r.Header.Get("Content-Type") != "application/x-"+service+"-request" {
		http.Error(w, "Unexpected content type.", http.StatusUnsupportedMediaType)
		return
	}
	rc := http.NewResponseController(w)
	var body io.Reader = &idleReader{r: r.Body, rc: rc, idle: gitIdleTimeout}
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, "The request body is not gzip.", http.StatusBadRequest)
			return
		}
		body = gz
	}
	limit := int64(maxUploadRequest)
	if service == "git-receive-pack" {
		// receive.maxInputSize refuses a larger pack as it arrives; this
		// bounds the rest (and a gzip bomb) a little above it.
		limit = s.Engine.Limits.WithDefaults().SourceBytes + maxUploadRequest
	}
	body = io.LimitReader(body, limit)
	w.Header().Set("Content-Type", "application/x-"+service+"-result")
	w.Header().Set("Cache-Control", "no-cache")
	out := &flushWriter{w: w, rc: rc}
	verb := strings.TrimPrefix(service, "git-")
	cmd := exec.Command("git", verb, "--stateless-rpc", repo)
	cmd.Env = append(os.Environ(), "GIT_PROTOCOL="+gitProtocol(r))
	// Ends a read of the body still blocked once git has exited.
	unblock := func() { _ = rc.SetReadDeadline(time.Now()) }
	var stderr strings.Builder
	if verb == "receive-pack" {
		env, end := s.beginPush(app, user, repo)
		cmd.Env = append(cmd.Env, env...)
		code := runWired(cmd, body, out, &stderr, unblock)
		var settled strings.Builder
		end(&settled)
		if code != 0 || settled.Len() > 0 {
			s.logf("git http: push to %s: exit %d: %s%s", app, code, strings.TrimSpace(stderr.String()), strings.TrimSpace(settled.String()))
		}
		return
	}
	if code := runWired(cmd, body, out, &stderr, unblock); code != 0 {
		s.logf("git http: %s of %s: exit %d: %s", verb, app, code, strings.TrimSpace(stderr.String()))
	}
}

// gitProtocol is the protocol version the client asked for, passed to git
// only in the one form git knows.
func gitProtocol(r *http.Request) string {
	if r.Header.Get("Git-Protocol") == "version=2" {
		return "version=2"
	}
	return ""
}

// idleReader gives each read of the body idle to make progress.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	idle time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	_ = i.rc.SetReadDeadline(time.Now().Add(i.idle))
	n, err := i.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		// A deadline or a broken connection: git sees the body end.
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// flushWriter sends each write at once: git's progress and the build's
// output reach the pusher as they happen, not when the push ends.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}
