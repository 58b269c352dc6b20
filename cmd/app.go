// Package cmd is hako's command line: `hako server` wires the server
// together, every other command is a client of the server's API, the same
// whether typed in a shell or sent over SSH.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/dyno"
)

// Env is what a command run needs from outside: where to write, how to
// reach the API, and whether it came over SSH (where server-side commands
// and local files are off limits).
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Client returns the API client; over SSH it points at the server
	// itself.
	Client func() (*Client, error)
	// Remote is true for commands sent over SSH.
	Remote bool
	// Logf writes to the server's log, for commands sent over SSH.
	Logf func(format string, args ...any)
	// Run runs a one-off dyno attached to the command's streams, with a
	// terminal when tty is set and one is available; nil goes through the
	// API.
	Run func(ctx context.Context, req engine.RunRequest, tty bool) (int, error)
}

// Main runs hako with os-style args and returns the exit status.
func Main(args []string) int {
	if len(args) > 1 && args[1] == "dyno-init" {
		// A dyno's init runs before any CLI parsing: it is PID 1 of a new
		// namespace and must start the command as fast as it can.
		return dyno.InitMain(args[2:])
	}
	env := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Client: NewClientFromEnv}
	return Run(env, args[1:])
}

// Run runs one command line (without the program name) and returns its
// exit status, printing errors the way the Heroku CLI does.
func Run(env *Env, args []string) int {
	app := NewApp(env)
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") && args[0] != "help" && app.Command(args[0]) == nil {
		fmt.Fprintf(env.Stderr, " ▸    %s is not a hako command. See `hako help` for the list.\n", args[0])
		return 1
	}
	args = reorder(app, args)
	started := markActions(app.Commands)
	err := app.Run(append([]string{"hako"}, args...))
	if err == nil {
		return 0
	}
	if !*started && engine.ErrorCode(err) == engine.EINTERNAL {
		// The command-line library refused the line before any command
		// ran (a required flag missing, an unknown flag, a bad value):
		// its message is about the user's input and is shown as it is.
		fmt.Fprintf(env.Stderr, " ▸    %s\n", err)
		return 1
	}
	var exit cli.ExitCoder
	if errors.As(err, &exit) {
		if msg := exit.Error(); msg != "" {
			fmt.Fprintf(env.Stderr, " ▸    %s\n", msg)
		}
		return exit.ExitCode()
	}
	fmt.Fprintf(env.Stderr, " ▸    %s\n", engine.ErrorMessage(err))
	if engine.ErrorCode(err) == engine.EINTERNAL {
		if !env.Remote {
			fmt.Fprintf(env.Stderr, "      (%v)\n", err)
		} else if env.Logf != nil {
			// The user was told the server log has the details.
			env.Logf("ssh command %s: %v", strings.Join(args, " "), err)
		}
	}
	return 1
}

// markActions wraps every command's action so that Run can tell an error
// of the command-line library, returned before any action ran, from one
// of the command itself, which may carry internal details.
func markActions(cmds []*cli.Command) *bool {
	started := new(bool)
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			if action := c.Action; action != nil {
				c.Action = func(ctx *cli.Context) error {
					*started = true
					return action(ctx)
				}
			}
			walk(c.Subcommands)
		}
	}
	walk(cmds)
	return started
}

// NewApp builds the command tree. Over SSH the server-side commands are
// left out, so a remote user cannot start a server or a hook.
func NewApp(env *Env) *cli.App {
	cmds := []*cli.Command{}
	cmds = append(cmds, appsCommands(env)...)
	cmds = append(cmds, keysCommands(env)...)
	cmds = append(cmds, usersCommands(env)...)
	cmds = append(cmds, accessCommands(env)...)
	cmds = append(cmds, workshopCommands(env)...)
	cmds = append(cmds, configCommands(env)...)
	cmds = append(cmds, buildpacksCommands(env)...)
	cmds = append(cmds, domainsCommands(env)...)
	cmds = append(cmds, addonsCommands(env)...)
	cmds = append(cmds, databaseCommands(env)...)
	cmds = append(cmds, maintenanceCommands(env)...)
	cmds = append(cmds, drainsCommands(env)...)
	cmds = append(cmds, releasesCommands(env)...)
	cmds = append(cmds, buildListCommands(env)...)
	cmds = append(cmds, schedulerCommands(env)...)
	cmds = append(cmds, pipelinesCommands(env)...)
	cmds = append(cmds, reviewAppsCommands(env)...)
	cmds = append(cmds, pgBackupsCommands(env)...)
	cmds = append(cmds, psCommands(env)...)
	cmds = append(cmds, exportCommands(env)...)
	cmds = append(cmds, logsCommand(env), runCommand(env), buildsCommand(env), gitRemoteCommand(env), statusCommand(env))
	if !env.Remote {
		cmds = append(cmds, serverCommand(env), hookCommand(env), caPathCommand(env), ciCommand(env))
	}
	return &cli.App{
		Name:      "hako",
		Usage:     "a Heroku-style PaaS on one machine",
		Commands:  cmds,
		Reader:    env.Stdin,
		Writer:    env.Stdout,
		ErrWriter: env.Stderr,
		// Errors are printed once, by Run.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		Metadata:        map[string]any{"remote": env.Remote},
	}
}

// appFlag is the -a/--app flag every app command takes, as in Heroku's CLI.
var appFlag = &cli.StringFlag{Name: "app", Aliases: []string{"a"}, Usage: "the app to act on", EnvVars: []string{"HAKO_APP"}}

// appName returns the -a flag's value or a usage error.
// Without -a, a local command takes the app of the current repository's
// `hako` remote (`hako git:remote`), as the Heroku CLI does with its
// `heroku` remote.
func appName(c *cli.Context) (string, error) {
	name := c.String("app")
	if name == "" && c.App.Metadata["remote"] != true {
		name = remoteApp(gitOutput(".", "remote", "get-url", "hako"))
	}
	if name == "" {
		return "", engine.Errorf(engine.EINVALID, "Missing required flag: -a, --app APP (the app to act on), or run it in a repository with a hako remote (`hako git:remote -a APP`)")
	}
	return name, engine.ValidateAppName(name)
}

// remoteApp returns the app a hako git URL names
// (ssh://git@HOST:PORT/APP.git), or "".
func remoteApp(url string) string {
	i := strings.LastIndexAny(url, "/:")
	name, ok := strings.CutSuffix(url[i+1:], ".git")
	if !ok || engine.ValidateAppName(name) != nil {
		return ""
	}
	return name
}

// reorder moves a command's flags before its arguments, so that flags may
// come after arguments as in the Heroku CLI (urfave/cli stops parsing
// flags at the first argument).
func reorder(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	var cmd *cli.Command
	for _, c := range app.Commands {
		if c.HasName(args[0]) {
			cmd = c
		}
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, rest []string
	in := args[1:]
	for i := 0; i < len(in); i++ {
		a := in[i]
		if a == "--" {
			rest = append(rest, in[i+1:]...)
			break
		}
		name := strings.TrimLeft(a, "-")
		n, _, _ := strings.Cut(name, "=")
		_, known := takesValue[n]
		// A one-off command keeps the flags hako does not know
		// (`hako run -a app ls -la`), as the Heroku CLI does.
		if !strings.HasPrefix(a, "-") || a == "-" || (cmd.Name == "run" && !known) {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		if n, _, hasEq := strings.Cut(name, "="); !hasEq && takesValue[n] && i+1 < len(in) {
			flags = append(flags, in[i+1])
			i++
		}
	}
	out := append([]string{args[0]}, flags...)
	if len(rest) > 0 {
		out = append(out, "--")
		out = append(out, rest...)
	}
	return out
}
