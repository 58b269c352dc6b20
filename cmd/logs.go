package cmd

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/logs"
)

func logsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "logs",
		Usage: "show an app's recent log lines (dyno output, platform events, router)",
		Flags: []cli.Flag{
			appFlag,
			&cli.IntFlag{Name: "num", Aliases: []string{"n"}, Value: 100, Usage: "how many lines (at most 1500)"},
			&cli.BoolFlag{Name: "tail", Aliases: []string{"t"}, Usage: "keep printing new lines"},
			&cli.StringFlag{Name: "dyno", Aliases: []string{"d"}, Usage: "only this dyno (web.1)"},
			&cli.StringFlag{Name: "ps", Aliases: []string{"p"}, Usage: "only this process type (web)"},
			&cli.StringFlag{Name: "source", Aliases: []string{"s"}, Usage: "only app or heroku lines"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object a line, with the text exactly as the app wrote it"},
		},
		Action: func(c *cli.Context) error {
			name, cl, err := appClient(env, c)
			if err != nil {
				return err
			}
			q := url.Values{}
			q.Set("num", strconv.Itoa(c.Int("num")))
			if c.Bool("tail") {
				q.Set("tail", "true")
			}
			for _, f := range []string{"dyno", "ps", "source"} {
				if v := c.String(f); v != "" {
					q.Set(f, v)
				}
			}
			if c.Bool("json") {
				q.Set("format", "json")
				return cl.Stream(appPath(name, "/log-lines?"+q.Encode()), env.Stdout)
			}
			// An app's output must not drive the user's terminal.
			w := &escapingWriter{w: env.Stdout}
			err = cl.Stream(appPath(name, "/log-lines?"+q.Encode()), w)
			w.Flush()
			return err
		},
	}
}

// Stream copies a streaming text answer (a log tail) to w as it comes.
func (c *Client) Stream(path string, w io.Writer) error {
	req, err := http.NewRequest("GET", strings.TrimRight(c.URL, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.streaming().Do(req)
	if err != nil {
		return engine.Errorf(engine.EINTERNAL, "Cannot reach the hako server at %s: is `hako server` running? (%v)", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readAPIError(resp)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// escapingWriter writes the lines given to it with logs.Escape applied,
// each once its newline has come.
type escapingWriter struct {
	w       io.Writer
	pending []byte
}

func (e *escapingWriter) Write(p []byte) (int, error) {
	e.pending = append(e.pending, p...)
	for {
		i := bytes.IndexByte(e.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		if _, err := io.WriteString(e.w, logs.Escape(string(e.pending[:i]))+"\n"); err != nil {
			return 0, err
		}
		e.pending = e.pending[i+1:]
	}
}

// Flush writes what is left after the last newline.
func (e *escapingWriter) Flush() {
	if len(e.pending) > 0 {
		_, _ = io.WriteString(e.w, logs.Escape(string(e.pending)))
		e.pending = nil
	}
}
