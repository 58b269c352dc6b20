package cmd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"hako/engine"
	"hako/engine/api"
	"hako/engine/frame"
)

func runCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a one-off dyno attached to your terminal (hako run -a APP bash)",
		ArgsUsage: "COMMAND...",
		Flags: []cli.Flag{
			appFlag,
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "KEY=VALUE for this dyno only (repeatable)"},
			&cli.BoolFlag{Name: "no-tty", Usage: "do not give the dyno a terminal"},
		},
		Action: func(c *cli.Context) error {
			name, err := appName(c)
			if err != nil {
				return err
			}
			command := buildCommand(c.Args().Slice())
			if command == "" {
				return engine.Errorf(engine.EINVALID, "Usage: hako run -a APP COMMAND (e.g. bash); put -- before a command that has flags of its own")
			}
			extra := map[string]string{}
			for _, kv := range c.StringSlice("env") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return engine.Errorf(engine.EINVALID, "-e %q is not KEY=VALUE", kv)
				}
				extra[k] = v
			}
			req := engine.RunRequest{App: name, Command: command, Env: extra, Stdin: env.Stdin, Out: env.Stdout}
			runner := env.Run
			if runner == nil {
				runner = apiRunner(env)
			}
			code, err := runner(c.Context, req, !c.Bool("no-tty"))
			if err != nil {
				return err
			}
			if code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

// apiRunner runs a one-off dyno through the API, upgrading the
// connection to carry the dyno's input and output.
func apiRunner(env *Env) func(context.Context, engine.RunRequest, bool) (int, error) {
	return func(ctx context.Context, req engine.RunRequest, tty bool) (int, error) {
		cl, err := env.Client()
		if err != nil {
			return -1, err
		}
		body := api.RunBody{Command: req.Command, Attach: true, Env: req.Env}
		fd := int(os.Stdin.Fd())
		raw := tty && env.Stdin == os.Stdin && term.IsTerminal(fd)
		if raw {
			cols, rows, err := term.GetSize(fd)
			if err != nil {
				cols, rows = 80, 24
			}
			body.TTY = &struct {
				Cols uint16 `json:"cols"`
				Rows uint16 `json:"rows"`
			}{uint16(cols), uint16(rows)}
		}
		conn, br, err := upgrade(cl, appPath(req.App, "/dynos"), body)
		if err != nil {
			return -1, err
		}
		defer conn.Close()
		fw := frame.NewWriter(conn)
		nl := "\n"
		if raw {
			state, err := term.MakeRaw(fd)
			if err == nil {
				defer term.Restore(fd, state)
				nl = "\r\n"
			}
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, syscall.SIGWINCH)
			defer signal.Stop(winch)
			go func() {
				for range winch {
					if c, r, err := term.GetSize(fd); err == nil {
						_ = fw.Frame(frame.Resize, frame.ResizePayload(uint16(c), uint16(r)))
					}
				}
			}()
		}
		go pumpInput(req.Stdin, fw)
		for {
			kind, p, err := frame.Read(br)
			if err != nil {
				return -1, engine.Errorf(engine.EINTERNAL, "The connection to the dyno ended early: %v", err)
			}
			switch kind {
			case frame.Output:
				_, _ = req.Out.Write(p)
			case frame.Name:
				fmt.Fprintf(env.Stderr, "Running %s on ⬢ %s... up, %s%s", req.Command, req.App, p, nl)
			case frame.Exit:
				if len(p) != 1 {
					return 1, nil
				}
				return int(p[0]), nil
			}
		}
	}
}

// pumpInput sends standard input as Input frames, then EOF.
func pumpInput(in io.Reader, fw *frame.Writer) {
	if in == nil {
		_ = fw.Frame(frame.EOF, nil)
		return
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if fw.Frame(frame.Input, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			_ = fw.Frame(frame.EOF, nil)
			return
		}
	}
}

// upgrade POSTs body to path and expects "101 Switching Protocols" to
// the hako-attach protocol; any other answer is the API's error.
func upgrade(cl *Client, path string, body any) (net.Conn, *bufio.Reader, error) {
	u, err := url.Parse(cl.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("API URL %q: %w", cl.URL, err)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequest("POST", strings.TrimRight(cl.URL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cl.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "hako-attach")
	var conn net.Conn
	if u.Scheme == "https" {
		conn, err = tls.Dial("tcp", u.Host, cl.TLS)
	} else {
		conn, err = net.Dial("tcp", u.Host)
	}
	if err != nil {
		return nil, nil, engine.Errorf(engine.EINTERNAL, "Cannot reach the hako server at %s: is `hako server` running? (%v)", cl.URL, err)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("send run request: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("read run answer: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer conn.Close()
		return nil, nil, readAPIError(resp)
	}
	return conn, br, nil
}

// buildCommand joins a one-off command as the Heroku CLI does: one
// argument is taken as shell text (`hako run "rake test | tee log"`);
// of several, those with spaces or quotes are quoted so each stays one
// word, and the rest (&&, |, $VAR) keep their meaning to the shell.
func buildCommand(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"") {
			words[i] = ShellQuote(a)
		}
	}
	return strings.Join(words, " ")
}
