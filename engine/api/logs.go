package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"hako/engine"
	"hako/engine/logs"
)

// logQuery is what a log request asks for.
type logQuery struct {
	num              int
	tail             bool
	dyno, ps, source string
	serverSentEvents bool
	json             bool // one JSON object a line, the text as written
	// allowed, when set, is polled while a tail streams (every
	// tailRecheck); the tail ends once it says no (see stillAllowed).
	allowed func() bool
	// user is who asked; a tail counts against their bound of limit
	// tails open at once (0: none, see userlimits.go).
	user  string
	limit int
}

// tailRecheck is how often a tail checks that its reader may still read.
const tailRecheck = time.Second

// jsonLine is a log line as `hako logs --json` prints it.
type jsonLine struct {
	Time    time.Time `json:"time"`
	Source  string    `json:"source"`
	Dyno    string    `json:"dyno"`
	Message string    `json:"message"`
}

// logLines streams an app's log as text: the last num lines (default
// 100, at most 1,500, as Heroku), then new lines while tail is set.
// Filters: dyno (web.1), ps (web), source (app or heroku); format=json
// gives one JSON object a line.
func (s *Server) logLines(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	q := r.URL.Query()
	num := 100
	if v := q.Get("num"); v != "" {
		if num, err = strconv.Atoi(v); err != nil {
			num = -1
		}
	}
	s.streamLogs(w, r, app.Name, logQuery{num: num, tail: q.Get("tail") == "true", dyno: q.Get("dyno"), ps: q.Get("ps"), source: q.Get("source"), json: q.Get("format") == "json",
		allowed: s.stillAllowed(r, app), user: s.by(r), limit: bound(r, s.MaxTailsPerUser, DefaultMaxTailsPerUser)})
}

// streamLogs writes the app's recent lines, then new ones while q.tail,
// as plain text or as server-sent events (what the heroku CLI reads).
func (s *Server) streamLogs(w http.ResponseWriter, r *http.Request, app string, q logQuery) {
	if s.Logs == nil {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This server keeps no logs."))
		return
	}
	if q.num < 1 {
		s.fail(w, engine.Errorf(engine.EINVALID, "-n must be a number of lines from 1 to %d.", logs.Capacity))
		return
	}
	num := min(q.num, logs.Capacity)
	keep := filter(q.dyno, q.ps, q.source)
	var sub *logs.Tail
	if q.tail {
		release, ok := s.tails.take(q.user, q.limit)
		if !ok {
			s.fail(w, errTooManyTails(q.limit))
			return
		}
		defer release()
		var stop func()
		sub, stop = s.Logs.Subscribe(app)
		defer stop()
	}
	write := func(l logs.Line) { fmt.Fprintln(w, l) }
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if q.serverSentEvents {
		w.Header().Set("Content-Type", "text/event-stream")
		write = func(l logs.Line) { fmt.Fprintf(w, "data: %s\n\n", l) }
	}
	if q.json {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		write = func(l logs.Line) {
			_ = enc.Encode(jsonLine{Time: l.Time.UTC(), Source: l.Source, Dyno: l.Proc, Message: l.Text})
		}
	}
	w.WriteHeader(http.StatusOK)
	var recent []logs.Line
	for _, l := range s.Logs.Recent(app, 0) {
		if keep(l) {
			recent = append(recent, l)
		}
	}
	if len(recent) > num {
		recent = recent[len(recent)-num:]
	}
	for _, l := range recent {
		write(l)
	}
	flush(w)
	if !q.tail {
		return
	}
	recheck := time.NewTicker(tailRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-recheck.C:
			if q.allowed != nil && !q.allowed() {
				return
			}
		case l := <-sub.C:
			if keep(l) {
				write(l)
				flush(w)
			}
		}
	}
}

// filter keeps the lines of a dyno, a process type and a source. A dyno
// without a number (web) means all of that type (web.1, web.2), as in
// Logplex: the heroku CLI sends its --process-type as such a dyno.
func filter(dyno, ps, source string) func(logs.Line) bool {
	return func(l logs.Line) bool {
		if dyno != "" && l.Proc != dyno && (strings.Contains(dyno, ".") || !strings.HasPrefix(l.Proc, dyno+".")) {
			return false
		}
		if ps != "" && !strings.HasPrefix(l.Proc, ps+".") {
			return false
		}
		return source == "" || l.Source == source
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
