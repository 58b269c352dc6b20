// Package dashboard serves hako's web dashboard: a page that draws each
// app as Heroku's own diagrams do (the router in front of its dynos, the
// release and slug they run, the add-ons attached) and keeps it live with
// server-sent events: dyno states, router traffic, releases, the log
// stream and a step-by-step account of each deploy. Members see only the
// apps engine.CheckAccess lets them act on; administrators see all.
//
// It logs in with an API token and keeps a session cookie (HttpOnly,
// SameSite=Strict, Secure over TLS); every action also needs the
// session's CSRF token. Sessions and event streams are bounded.
package dashboard

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"hako/engine"
)

//go:embed web
var webFS embed.FS

var pages = template.Must(template.ParseFS(webFS, "web/*.html"))

// Defaults for the event streams' bounds.
const (
	DefaultMaxStreams        = 256
	DefaultMaxStreamsPerUser = 8
)

// Server is the dashboard. Make one with New, run its watcher with Run,
// and serve Handler under as many prefixes as wanted.
type Server struct {
	e      *engine.Engine
	token  string
	hub    *hub
	sess   sessions
	logf   func(string, ...any)
	perUsr int
	now    func() time.Time
}

// Options are the dashboard's settings; zero fields take the defaults.
type Options struct {
	// Token is the administrator's token (HAKO_HOME/api-token); users'
	// tokens are the engine's.
	Token string
	// Logs gives the apps' log lines; nil shows none and no traffic.
	Logs Logs
	// AppURL gives the URL an app is served at.
	AppURL func(app string) string
	// Logf receives internal errors.
	Logf func(string, ...any)

	MaxSessions, MaxSessionsPerUser int
	SessionTTL                      time.Duration
	MaxStreams, MaxStreamsPerUser   int
}

// New returns a dashboard over e.
func New(e *engine.Engine, o Options) *Server {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	s := &Server{e: e, token: o.Token, logf: o.Logf, now: time.Now}
	s.hub = newHub(e, o.Logs, o.AppURL, o.Logf)
	s.hub.max = cmpOr(o.MaxStreams, DefaultMaxStreams)
	s.perUsr = cmpOr(o.MaxStreamsPerUser, DefaultMaxStreamsPerUser)
	s.sess.max = cmpOr(o.MaxSessions, DefaultMaxSessions)
	s.sess.perUser = cmpOr(o.MaxSessionsPerUser, DefaultMaxSessionsPerUser)
	s.sess.ttl = o.SessionTTL
	if s.sess.ttl <= 0 {
		s.sess.ttl = DefaultSessionTTL
	}
	return s
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Run watches the engine for the streams until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	s.hub.run(ctx)
	return nil
}

// Narrate takes a deploy's steps (engine.Parts.Narrate); it never blocks.
func (s *Server) Narrate(app, step, detail string) {
	select {
	case s.hub.narrC <- narration{app: app, step: step, detail: detail, at: time.Now()}:
	default:
	}
}

// Handler serves the dashboard with its paths under base ("" or
// "/dashboard"); the caller routes base and base/... to it.
func (s *Server) Handler(base string) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	mux.Handle("GET "+base+"/static/", http.StripPrefix(base+"/static/", noDir(http.FileServerFS(static))))
	mux.HandleFunc("GET "+base+"/login", func(w http.ResponseWriter, r *http.Request) { s.loginPage(w, r, base, "", http.StatusOK) })
	mux.HandleFunc("POST "+base+"/login", func(w http.ResponseWriter, r *http.Request) { s.login(w, r, base) })
	mux.HandleFunc("POST "+base+"/logout", s.withSession(true, func(w http.ResponseWriter, r *http.Request, ss *session, secret string, u *engine.User) {
		s.sess.remove(secret)
		http.SetCookie(w, s.cookie(r, base, "", -1))
		http.Redirect(w, r, base+"/login", http.StatusSeeOther)
	}))
	mux.HandleFunc("GET "+base+"/events", s.withSession(false, s.events))
	mux.HandleFunc("POST "+base+"/focus", s.withSession(true, s.focus))
	mux.HandleFunc("GET "+base+"/apps/{app}/config", s.withSession(true, s.config))
	mux.HandleFunc("POST "+base+"/apps/{app}/scale", s.withSession(true, s.scale))
	mux.HandleFunc("POST "+base+"/apps/{app}/restart", s.withSession(true, s.restart))
	mux.HandleFunc("POST "+base+"/apps/{app}/rollback", s.withSession(true, s.rollback))
	page := func(w http.ResponseWriter, r *http.Request) {
		ss, _, u := s.session(r)
		if ss == nil {
			http.Redirect(w, r, base+"/login", http.StatusSeeOther)
			return
		}
		s.render(w, "index.html", http.StatusOK, map[string]any{"Base": base, "CSRF": ss.csrf, "User": u.Email, "Admin": u.Admin})
	}
	if base == "" {
		mux.HandleFunc("GET /{$}", page)
	} else {
		mux.HandleFunc("GET "+base+"/{$}", page)
		mux.HandleFunc("GET "+base, page)
	}
	return securityHeaders(mux)
}

// securityHeaders sets what every answer carries: no framing, no
// scripts but the dashboard's own, no sniffing, no caching of pages.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.Contains(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// noDir refuses directory listings of the embedded files.
func noDir(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) render(w http.ResponseWriter, name string, status int, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.logf("dashboard: render %s: %v", name, err)
	}
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, base, msg string, status int) {
	s.render(w, "login.html", status, map[string]any{"Base": base, "Error": msg})
}

// cookie is the session cookie, Secure when the request came over TLS.
func (s *Server) cookie(r *http.Request, base, value string, maxAge int) *http.Cookie {
	path := base
	if path == "" {
		path = "/"
	}
	return &http.Cookie{Name: cookieName, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

// authenticate finds the user of a token, as the API does, and the
// digest a session made with it keeps ("" for the administrator's).
func (s *Server) authenticate(tok string) (*engine.User, string, error) {
	if s.token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1 {
		u, err := s.e.User(engine.AdminEmail)
		return u, "", err
	}
	u, err := s.e.Authenticate(tok)
	return u, engine.TokenDigest(tok), err
}

// user returns the user of a live session while the token it was made
// with holds: a revoked token or a removed user ends it.
func (s *Server) user(ss *session) (*engine.User, error) {
	if ss.digest == "" {
		return s.e.User(ss.email)
	}
	u, err := s.e.AuthenticateDigest(ss.digest)
	if err == nil && u.Email != ss.email {
		err = engine.Errorf(engine.EUNAUTHORIZED, "The session's token belongs to another user.")
	}
	return u, err
}

// login takes a token from the form and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request, base string) {
	if !sameOrigin(r) {
		s.loginPage(w, r, base, "This log-in came from another site and was refused.", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := strings.TrimSpace(r.PostFormValue("token"))
	u, digest, err := s.authenticate(tok)
	if tok == "" || err != nil {
		s.loginPage(w, r, base, "That token is not valid: use one from `hako auth:token`.", http.StatusUnauthorized)
		return
	}
	secret, _ := s.sess.create(u.Email, digest, s.now())
	if secret == "" {
		s.loginPage(w, r, base, "The dashboard has as many sessions as it keeps: try again later.", http.StatusServiceUnavailable)
		return
	}
	http.SetCookie(w, s.cookie(r, base, secret, int(s.sess.ttl.Seconds())))
	http.Redirect(w, r, base+"/", http.StatusSeeOther)
}

// session returns the request's session and its user, or nil.
func (s *Server) session(r *http.Request) (*session, string, *engine.User) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, "", nil
	}
	ss := s.sess.find(c.Value, s.now())
	if ss == nil {
		return nil, "", nil
	}
	u, err := s.user(ss)
	if err != nil {
		s.sess.remove(c.Value) // its token was revoked or its user removed
		return nil, "", nil
	}
	return ss, c.Value, u
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, ss *session, secret string, u *engine.User)

// withSession lets in requests of a live session (401 otherwise); an
// action (csrf) must also come from this site and carry the session's
// CSRF token (403 otherwise).
func (s *Server) withSession(csrf bool, h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, secret, u := s.session(r)
		if ss == nil {
			fail(w, engine.Errorf(engine.EUNAUTHORIZED, "Log in first."))
			return
		}
		if csrf && (!sameOrigin(r) || !validCSRF(r, ss)) {
			fail(w, engine.Errorf(engine.EFORBIDDEN, "This request lacks the page's CSRF token (or came from another site) and was refused."))
			return
		}
		h(w, r, ss, secret, u)
	}
}

func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch engine.ErrorCode(err) {
	case engine.ENOTFOUND:
		status = http.StatusNotFound
	case engine.EINVALID, engine.EBUILD:
		status = http.StatusUnprocessableEntity
	case engine.ECONFLICT:
		status = http.StatusConflict
	case engine.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	case engine.EFORBIDDEN:
		status = http.StatusForbidden
	}
	id, msg := engine.ErrorCode(err), engine.ErrorMessage(err)
	var tm errTooMany
	if errors.As(err, &tm) {
		status, id, msg = http.StatusTooManyRequests, "rate_limit", tm.Error()
	}
	writeJSON(w, status, map[string]string{"id": id, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a small JSON body.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil || len(b) > 4096 {
		return engine.Errorf(engine.EINVALID, "The request body is unreadable or larger than 4 KiB.")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return engine.Errorf(engine.EINVALID, "The request body is not valid JSON: %v", err)
	}
	return nil
}

// access is the one authorization check, engine.CheckAccess.
func (s *Server) access(w http.ResponseWriter, r *http.Request, u *engine.User) (string, bool) {
	app := r.PathValue("app")
	if err := s.e.CheckAccess(u.Email, app, engine.AccessMember); err != nil {
		fail(w, err)
		return "", false
	}
	return app, true
}

// config reveals the current config vars, when the page asks (values are
// hidden until clicked).
func (s *Server) config(w http.ResponseWriter, r *http.Request, _ *session, _ string, u *engine.User) {
	app, ok := s.access(w, r, u)
	if !ok {
		return
	}
	cfg, err := s.e.Config(app)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, cfg)
}

func (s *Server) scale(w http.ResponseWriter, r *http.Request, _ *session, _ string, u *engine.User) {
	app, ok := s.access(w, r, u)
	if !ok {
		return
	}
	var body struct {
		Type     string `json:"type"`
		Quantity *int   `json:"quantity"`
	}
	if err := decode(r, &body); err != nil {
		fail(w, err)
		return
	}
	if body.Type == "" || body.Quantity == nil {
		fail(w, engine.Errorf(engine.EINVALID, "Scaling needs a process type and a quantity."))
		return
	}
	f, err := s.e.Scale(r.Context(), app, u.Email, map[string]int{body.Type: *body.Quantity})
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request, _ *session, _ string, u *engine.User) {
	app, ok := s.access(w, r, u)
	if !ok {
		return
	}
	var body struct {
		Dyno string `json:"dyno"`
	}
	if err := decode(r, &body); err != nil {
		fail(w, err)
		return
	}
	if err := s.e.Restart(r.Context(), app, u.Email, body.Dyno); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"restarted": cmpOrS(body.Dyno, "all")})
}

func cmpOrS(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, _ *session, _ string, u *engine.User) {
	app, ok := s.access(w, r, u)
	if !ok {
		return
	}
	var body struct {
		Version int `json:"version"`
	}
	if err := decode(r, &body); err != nil {
		fail(w, err)
		return
	}
	if body.Version <= 0 {
		fail(w, engine.Errorf(engine.EINVALID, "Roll back to which release? Give its version."))
		return
	}
	rel, err := s.e.Rollback(r.Context(), app, u.Email, body.Version, io.Discard)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": rel.Version, "description": rel.Description})
}

// focus chooses the app whose log lines a stream gets, and sends it the
// app's recent lines.
func (s *Server) focus(w http.ResponseWriter, r *http.Request, _ *session, _ string, u *engine.User) {
	var body struct {
		Stream string `json:"stream"`
		App    string `json:"app"`
	}
	if err := decode(r, &body); err != nil {
		fail(w, err)
		return
	}
	sub := s.hub.stream(body.Stream)
	if sub == nil || sub.user.Email != u.Email {
		fail(w, engine.Errorf(engine.ENOTFOUND, "No such stream: reload the page."))
		return
	}
	if err := s.e.CheckAccess(u.Email, body.App, engine.AccessMember); err != nil {
		fail(w, err)
		return
	}
	sub.mu.Lock()
	sub.focus = body.App
	sub.mu.Unlock()
	var lines []map[string]any
	if s.hub.logs != nil {
		for _, l := range s.hub.logs.Recent(body.App, 200) {
			lines = append(lines, logJSON(body.App, l))
		}
	}
	sub.offer(event{name: "logs", app: body.App, data: mustJSON(map[string]any{"app": body.App, "lines": lines})})
	w.WriteHeader(http.StatusNoContent)
}

// keepAlive is how often an idle stream gets a comment, so that proxies
// and the browser keep it open; recheck how often the stream's user is
// read again (a removed user's stream ends). A revoked token or a
// removed user ends a stream at once (engine.Engine.Revoked).
const (
	keepAlive = 15 * time.Second
	recheck   = 30 * time.Second
)

// stillLive reports whether the session of secret still holds: not
// expired nor logged out, its token not revoked, its user not removed.
func (s *Server) stillLive(secret string) bool {
	ss := s.sess.find(secret, s.now())
	if ss == nil {
		return false
	}
	if _, err := s.user(ss); err != nil {
		s.sess.remove(secret)
		return false
	}
	return true
}

// events is the server-sent event stream.
func (s *Server) events(w http.ResponseWriter, r *http.Request, ss *session, secret string, u *engine.User) {
	fl, ok := w.(http.Flusher)
	if !ok {
		fail(w, engine.Errorf(engine.EINTERNAL, "streaming unsupported"))
		return
	}
	sub, first, err := s.hub.subscribe(u, s.perUsr)
	if err != nil {
		fail(w, err)
		return
	}
	defer s.hub.unsubscribe(sub)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(ev event) error {
		_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.name, ev.data)
		return err
	}
	if err := write(event{name: "hello", data: mustJSON(map[string]any{"stream": sub.id, "user": u.Email, "admin": u.Admin})}); err != nil {
		return
	}
	for _, ev := range first {
		if write(ev) != nil {
			return
		}
	}
	if write(event{name: "ready", data: []byte("{}")}) != nil {
		return
	}
	fl.Flush()
	ka := time.NewTicker(keepAlive)
	defer ka.Stop()
	rc := time.NewTicker(recheck)
	defer rc.Stop()
	revoked := s.e.Revoked()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-sub.ch:
			if write(ev) != nil {
				return
			}
			// Send what else is waiting in one flush.
			for n := len(sub.ch); n > 0; n-- {
				if write(<-sub.ch) != nil {
					return
				}
			}
			fl.Flush()
		case <-ka.C:
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-revoked:
			// A token was revoked or a user removed: perhaps this
			// stream's, so it is checked now rather than at the next tick.
			revoked = s.e.Revoked()
			if !s.stillLive(secret) {
				return
			}
		case <-rc.C:
			if !s.stillLive(secret) {
				return
			}
			nu, err := s.e.User(u.Email)
			if err != nil {
				return
			}
			sub.mu.Lock()
			sub.user = nu
			sub.mu.Unlock()
		}
	}
}
