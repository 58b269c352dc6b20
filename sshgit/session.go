package sshgit

import (
	"context"
	"io"

	"github.com/gliderlabs/ssh"

	"hako/engine"
)

// Session is an SSH command as the rest of hako sees it, free of the SSH
// library's types.
type Session struct {
	Context context.Context
	Args    []string
	Stdin   io.Reader
	// Stdout and Stderr end lines with CR LF when the client asked for a
	// terminal (ssh -t), whose raw mode would otherwise staircase them.
	Stdout, Stderr io.Writer
	// Raw is the session's output untouched, for a dyno attached to a
	// pseudo-terminal, which already ends its lines for a terminal.
	Raw io.Writer
	// User names who holds the key the client authenticated with.
	User string
	// Terminal is set when the client asked for a pseudo-terminal.
	Terminal *engine.Terminal
}

func newSession(sess ssh.Session, args []string) *Session {
	user, _ := sess.Context().Value(userKey{}).(string)
	s := &Session{Context: sess.Context(), Args: args, Stdin: sess, Stdout: sess, Stderr: sess.Stderr(), Raw: sess, User: user}
	ptyReq, winCh, isPty := sess.Pty()
	if !isPty {
		return s
	}
	s.Stdout, s.Stderr = &crlfWriter{w: sess}, &crlfWriter{w: sess.Stderr()}
	resize := make(chan [2]uint16, 1)
	go func() {
		defer close(resize)
		for w := range winCh {
			select {
			case resize <- [2]uint16{uint16(w.Width), uint16(w.Height)}:
			default:
			}
		}
	}()
	s.Terminal = &engine.Terminal{Cols: uint16(ptyReq.Window.Width), Rows: uint16(ptyReq.Window.Height), Resize: resize}
	return s
}

// crlfWriter turns "\n" into "\r\n" for a terminal in raw mode.
type crlfWriter struct {
	w    io.Writer
	last byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+8)
	for _, b := range p {
		if b == '\n' && c.last != '\r' {
			out = append(out, '\r')
		}
		out = append(out, b)
		c.last = b
	}
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
