package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"hako/engine"
	"hako/engine/frame"
)

// RunBody is POST /apps/{app}/dynos: a one-off dyno. hako's own client
// attaches by upgrading the connection ("Upgrade: hako-attach"), which
// then carries frames (package frame): Input, EOF and Resize from the
// client; Name, Output and Exit from the server. Any other client (the
// heroku CLI, heroku-go) gets 201 and the dyno: with Attach, its
// attach_url at the rendezvous listener (see Rendezvous); without, the
// dyno runs detached, its output going to the app's logs.
type RunBody struct {
	Command string `json:"command"`
	Attach  bool   `json:"attach"`
	Env     RunEnv `json:"env,omitempty"`
	// TTY, when set, gives the dyno a terminal of that size.
	TTY *struct {
		Cols uint16 `json:"cols"`
		Rows uint16 `json:"rows"`
	} `json:"tty,omitempty"`
	// ForceNoTTY is the heroku CLI's --no-tty.
	ForceNoTTY bool `json:"force_no_tty,omitempty"`
	// Size and Type are read and ignored: every dyno is the same size,
	// and a one-off is of type run.
	Size string `json:"size,omitempty"`
	Type string `json:"type,omitempty"`
}

// RunEnv is a one-off dyno's extra environment. The heroku CLI sends
// COLUMNS and LINES as numbers: numbers and booleans are taken as their
// text, null as unset.
type RunEnv map[string]string

// UnmarshalJSON reads an object of strings, numbers, booleans or nulls.
func (e *RunEnv) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return engine.Errorf(engine.EINVALID, "env must be an object of strings.")
	}
	out := RunEnv{}
	for k, v := range raw {
		var val any
		if err := json.Unmarshal(v, &val); err != nil {
			return engine.Errorf(engine.EINVALID, "env %s: %v", k, err)
		}
		switch val := val.(type) {
		case nil:
		case string:
			out[k] = val
		case float64, bool:
			out[k] = string(bytes.TrimSpace(v))
		default:
			return engine.Errorf(engine.EINVALID, "env %s must be a string.", k)
		}
	}
	*e = out
	return nil
}

func (s *Server) createDyno(w http.ResponseWriter, r *http.Request) {
	var body RunBody
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if body.Command == "" {
		s.fail(w, engine.Errorf(engine.EINVALID, "Usage: hako run -a APP COMMAND (e.g. bash)"))
		return
	}
	if body.Attach && strings.EqualFold(r.Header.Get("Upgrade"), "hako-attach") {
		s.attachHako(w, r, app, body)
		return
	}
	s.startDyno(w, r, app, body)
}

// attachHako runs the dyno on the upgraded connection (hako run). The
// user's place for it is taken before the upgrade, so a refusal is an
// ordinary 429, and given back when the dyno or the connection ends.
func (s *Server) attachHako(w http.ResponseWriter, r *http.Request, app *engine.App, body RunBody) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.fail(w, fmt.Errorf("attach: connection cannot be hijacked"))
		return
	}
	release, err := s.Engine.HoldAttached(s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	defer release()
	conn, brw, err := hj.Hijack()
	if err != nil {
		s.logf("attach: hijack: %v", err)
		return
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: hako-attach\r\n\r\n")
	fw := frame.NewWriter(conn)
	stdin, stdinW := io.Pipe()
	resize := make(chan [2]uint16, 4)
	var term *engine.Terminal
	if body.TTY != nil {
		term = &engine.Terminal{Cols: body.TTY.Cols, Rows: body.TTY.Rows, Resize: resize}
	}
	// A client that goes away ends the dyno: after a hijack nothing else
	// would notice.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		readInput(brw.Reader, stdinW, resize)
		cancel()
	}()
	code, err := s.Engine.Run(ctx, engine.RunRequest{
		App: app.Name, Command: body.Command, User: s.by(r), Env: body.Env,
		Stdin: stdin, Out: fw, Terminal: term,
		Started: func(name string) { _ = fw.Frame(frame.Name, []byte(name)) },
	})
	_ = stdin.Close()
	if err != nil && code < 0 {
		if engine.ErrorCode(err) == engine.EINTERNAL {
			s.logf("run on %s: %v", app.Name, err)
		}
		_, _ = fmt.Fprintf(fw, " ▸    %s\r\n", engine.ErrorMessage(err))
		code = 1
	}
	_ = fw.Frame(frame.Exit, []byte{byte(code)})
}

// readInput feeds the client's Input frames to the dyno and its Resize
// frames to the terminal, until EOF or the connection ends.
func readInput(r *bufio.Reader, stdin *io.PipeWriter, resize chan<- [2]uint16) {
	defer close(resize)
	for {
		kind, p, err := frame.Read(r)
		if err != nil {
			_ = stdin.CloseWithError(io.EOF)
			return
		}
		switch kind {
		case frame.Input:
			if _, err := stdin.Write(p); err != nil {
				return
			}
		case frame.EOF:
			_ = stdin.Close()
		case frame.Resize:
			if c, rows, ok := frame.ParseResize(p); ok {
				select {
				case resize <- [2]uint16{c, rows}:
				default: // a burst of resizes: the last one that fits wins
				}
			}
		}
	}
}

// startDyno answers a client other than hako's own (the heroku CLI,
// heroku-go): 201 and the dyno, which, with attach, waits at the
// rendezvous for its client and otherwise runs detached now, its output
// in the app's logs.
func (s *Server) startDyno(w http.ResponseWriter, r *http.Request, app *engine.App, body RunBody) {
	for k := range body.Env {
		if err := engine.ValidateConfigKey(k); err != nil {
			s.fail(w, err)
			return
		}
	}
	rel, err := s.Engine.Release(app.Name, app.CurrentRelease)
	if err != nil {
		s.fail(w, err)
		return
	}
	if rel.SlugID == "" {
		s.fail(w, engine.Errorf(engine.EINVALID, "%s has no release to run yet: deploy it first with git push.", app.Name))
		return
	}
	req := engine.RunRequest{App: app.Name, Command: body.Command, User: s.by(r), Env: body.Env, Kind: "run"}
	var cancel func()
	if body.Attach {
		// The user's place is held from now: while the dyno waits for its
		// client, then while it runs, until the rendezvous drops it.
		release, err := s.Engine.HoldAttached(req.User)
		if err != nil {
			s.fail(w, err)
			return
		}
		// Listed as starting until its client comes.
		var unlist func()
		req.Name, unlist = s.Engine.ReserveOneoff(app.Name, "run", body.Command, rel.Version)
		cancel = func() { unlist(); release() }
	} else {
		req.Name = s.Engine.OneoffName(app.Name, "run")
	}
	st := engine.DynoStatus{Name: req.Name, Type: "run", App: app.Name, Release: rel.Version, Command: body.Command,
		State: engine.DynoStarting, Since: time.Now().UTC()}
	view := dynoView(app, st, s.releaseIDs(app.Name))
	if body.Attach {
		if s.Rendezvous == nil {
			cancel()
			s.fail(w, engine.Errorf(engine.EINVALID, "This server has no rendezvous listener for attached one-off dynos."))
			return
		}
		// A terminal when the client has one (it sends TERM), unless it
		// said --no-tty.
		tty := !body.ForceNoTTY && (body.TTY != nil || body.Env["TERM"] != "")
		if tty {
			req.Terminal = &engine.Terminal{Cols: envSize(body.Env["COLUMNS"], 80), Rows: envSize(body.Env["LINES"], 24)}
			if body.TTY != nil {
				req.Terminal.Cols, req.Terminal.Rows = body.TTY.Cols, body.TTY.Rows
			}
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		url, err := s.Rendezvous.offer(req, tty, host, cancel)
		if err != nil {
			cancel()
			s.fail(w, err)
			return
		}
		view.AttachURL = &url
		writeJSON(w, http.StatusCreated, view)
		return
	}
	// A detached dyno runs until its command exits: the user's bound
	// counts it until then.
	limit := bound(r, s.MaxDetachedPerUser, DefaultMaxDetachedPerUser)
	release, ok := s.detached.take(req.User, limit)
	if !ok {
		s.fail(w, errTooManyDetached(limit))
		return
	}
	req.Out = io.Discard
	ctx := s.Context
	if ctx == nil {
		ctx = context.Background()
	}
	go func() {
		defer release()
		if _, err := s.Engine.Run(ctx, req); err != nil && engine.ErrorCode(err) == engine.EINTERNAL && ctx.Err() == nil {
			s.logf("run:detached on %s: %v", app.Name, err)
		}
	}()
	writeJSON(w, http.StatusCreated, view)
}

// envSize reads a terminal dimension the client sent (COLUMNS, LINES).
func envSize(v string, def uint16) uint16 {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return def
	}
	return uint16(n)
}
