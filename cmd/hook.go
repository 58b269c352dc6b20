package cmd

import (
	"github.com/urfave/cli/v2"

	"hako/sshgit"
)

// hookCommand is what git runs as the pre-receive and post-receive hooks
// of every app's repository; it is not meant to be typed.
func hookCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:        "hook",
		Hidden:      true,
		Usage:       "git hooks (run by git, not by hand)",
		Subcommands: []*cli.Command{hookSubcommand(env, "pre-receive"), hookSubcommand(env, "post-receive")},
	}
}

func hookSubcommand(env *Env, hook string) *cli.Command {
	return &cli.Command{
		Name: hook,
		Action: func(c *cli.Context) error {
			if code := sshgit.RunHook(hook, env.Stdin, env.Stderr); code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}
