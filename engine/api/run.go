package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"

	"hako/engine"
	"hako/engine/frame"
)

// RunBody is POST /apps/{app}/dynos: a one-off dyno. With Attach, the
// connection is upgraded ("Upgrade: hako-attach") and carries frames
// (package frame): Input, EOF and Resize from the client; Name, Output
// and Exit from the server.
type RunBody struct {
	Command string            `json:"command"`
	Attach  bool              `json:"attach"`
	Env     map[string]string `json:"env,omitempty"`
	// TTY, when set, gives the dyno a terminal of that size.
	TTY *struct {
		Cols uint16 `json:"cols"`
		Rows uint16 `json:"rows"`
	} `json:"tty,omitempty"`
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
	if !body.Attach {
		s.fail(w, engine.Errorf(engine.EINVALID, "Only attached one-off dynos are supported: set attach."))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.fail(w, fmt.Errorf("attach: connection cannot be hijacked"))
		return
	}
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
