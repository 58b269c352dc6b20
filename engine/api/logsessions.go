package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"hako/engine"
)

// logSessionTTL is how long a log session's URL may be opened: the
// client fetches it at once.
const logSessionTTL = time.Minute

// logSessions are the pending log sessions: Heroku's API hands out a
// logplex_url that the client reads without its token, so the URL itself
// carries a one-time secret.
type logSessions struct {
	mu sync.Mutex
	m  map[string]logSession
}

type logSession struct {
	app     string
	q       logQuery
	expires time.Time
}

// add keeps s and returns its id, unless maxPendingLogSessions wait, or
// maxPendingLogSessionsPerUser of a bounded user's (s.q.limit set).
// Returns ETOOMANY.
func (ls *logSessions) add(s logSession) (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	id := hex.EncodeToString(b[:])
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.m == nil {
		ls.m = map[string]logSession{}
	}
	mine := 0
	for k, v := range ls.m {
		if time.Now().After(v.expires) {
			delete(ls.m, k)
		} else if v.q.user == s.q.user {
			mine++
		}
	}
	if len(ls.m) >= maxPendingLogSessions || s.q.limit > 0 && mine >= maxPendingLogSessionsPerUser {
		return "", engine.Errorf(engine.ETOOMANY, "Too many log sessions are waiting to be read; try again in a minute.")
	}
	ls.m[id] = s
	return id, nil
}

// take returns and forgets a session; each URL serves once.
func (ls *logSessions) take(id string) (logSession, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	s, ok := ls.m[id]
	delete(ls.m, id)
	return s, ok && time.Now().Before(s.expires)
}

// createLogSession is POST /apps/{app}/log-sessions, as the heroku CLI
// calls it: {"lines": 100, "tail": true, "dyno": "web.1", "source": "app"}.
func (s *Server) createLogSession(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var body struct {
		Lines  int    `json:"lines"`
		Tail   bool   `json:"tail"`
		Dyno   string `json:"dyno"`
		Type   string `json:"type"`
		Source string `json:"source"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.Lines == 0 {
		body.Lines = 100
	}
	q := logQuery{num: body.Lines, tail: body.Tail, dyno: body.Dyno, ps: body.Type, source: body.Source, allowed: s.stillAllowed(r, app),
		user: s.by(r), limit: bound(r, s.MaxTailsPerUser, DefaultMaxTailsPerUser)}
	// A tail past the user's bound is refused now, where the client
	// shows the error, and again when it is read.
	if q.tail && q.limit > 0 && s.tails.count(q.user) >= q.limit {
		s.fail(w, errTooManyTails(q.limit))
		return
	}
	id, err := s.sessions.add(logSession{app: app.Name, q: q, expires: time.Now().Add(logSessionTTL)})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "logplex_url": "http://" + r.Host + "/log-sessions/" + id, "created_at": time.Now().UTC()})
}

// readLogSession serves a log session's URL, which needs no token: as
// server-sent events to a client that asks for them (the heroku CLI),
// else as plain lines (curl, heroku-go users reading the body).
func (s *Server) readLogSession(w http.ResponseWriter, r *http.Request) {
	ls, ok := s.sessions.take(r.PathValue("id"))
	if !ok {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This log session has expired: ask for the logs again."))
		return
	}
	// Up to a minute may pass between the session and its reading.
	if ls.q.allowed != nil && !ls.q.allowed() {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This log session has expired: ask for the logs again."))
		return
	}
	ls.q.serverSentEvents = strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	s.streamLogs(w, r, ls.app, ls.q)
}
