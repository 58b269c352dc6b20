package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"hako/engine"
	"hako/engine/logs"
)

// logLines streams an app's log as text: the last num lines (default
// 100, at most 1,500, as Heroku), then new lines while tail is set.
// Filters: dyno (web.1), ps (web), source (app or heroku).
func (s *Server) logLines(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if s.Logs == nil {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This server keeps no logs."))
		return
	}
	q := r.URL.Query()
	num := 100
	if v := q.Get("num"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.fail(w, engine.Errorf(engine.EINVALID, "-n must be a number of lines from 1 to %d.", logs.Capacity))
			return
		}
		num = min(n, logs.Capacity)
	}
	keep := filter(q.Get("dyno"), q.Get("ps"), q.Get("source"))
	tail := q.Get("tail") == "true"
	var sub *logs.Tail
	if tail {
		var stop func()
		sub, stop = s.Logs.Subscribe(app.Name)
		defer stop()
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	var recent []logs.Line
	for _, l := range s.Logs.Recent(app.Name, 0) {
		if keep(l) {
			recent = append(recent, l)
		}
	}
	if len(recent) > num {
		recent = recent[len(recent)-num:]
	}
	for _, l := range recent {
		fmt.Fprintln(w, l)
	}
	flush(w)
	if !tail {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case l := <-sub.C:
			if keep(l) {
				fmt.Fprintln(w, l)
				flush(w)
			}
		}
	}
}

func filter(dyno, ps, source string) func(logs.Line) bool {
	return func(l logs.Line) bool {
		if dyno != "" && l.Proc != dyno {
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
