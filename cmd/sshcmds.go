package cmd

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"hako/engine"
	"hako/sshgit"
)

// sshCommands runs the command line of an SSH session through the same
// command tree as the CLI: the commands reach the engine through the
// server's own API, as the key's user (with a token that lives as long as
// the command), so the API's authorization covers them; `run` attaches a
// one-off dyno to the session, with its terminal when the client asked
// for one (ssh -t), after the same check (engine.CheckAccess) and within
// the user's bound of attached one-off dynos (engine.HoldAttached).
func sshCommands(eng *engine.Engine, apiURL string) func(*sshgit.Session) int {
	return func(ss *sshgit.Session) int {
		token, end := eng.SessionToken(ss.User)
		defer end()
		client := func() (*Client, error) {
			return &Client{URL: apiURL, Token: token, HTTP: &http.Client{Timeout: 10 * time.Minute}}, nil
		}
		remote := &Env{Stdin: ss.Stdin, Stdout: ss.Stdout, Stderr: ss.Stderr, Remote: true, Client: client, Logf: eng.Logf,
			Run: func(_ context.Context, req engine.RunRequest, tty bool) (int, error) {
				if err := eng.CheckAccess(ss.User, req.App, engine.AccessMember); err != nil {
					return 1, err
				}
				// The session holds one of the user's places until it
				// ends, however it ends (ss.Context ends with the
				// connection, and with its keepalives' silence).
				release, err := eng.HoldAttached(ss.User)
				if err != nil {
					return 1, err
				}
				defer release()
				req.User, req.Stdin, req.Out = ss.User, ss.Stdin, ss.Stdout
				if tty && ss.Terminal != nil {
					req.Terminal, req.Out = ss.Terminal, ss.Raw
				}
				req.Started = func(name string) {
					fmt.Fprintf(ss.Stderr, "Running %s on ⬢ %s... up, %s\n", req.Command, req.App, name)
				}
				code, err := eng.Run(ss.Context, req)
				if err != nil && code >= 0 {
					// The dyno ran and was stopped (ps:stop, its cycle, its
					// client gone): its status says so, as through the API.
					err = nil
				}
				return code, err
			},
		}
		return Run(remote, ss.Args)
	}
}
