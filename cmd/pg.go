package cmd

import (
	"os/exec"

	"github.com/urfave/cli/v2"

	"hako/engine"
)

// clientCommand opens a database's own client (psql, redis-cli) on this
// machine against an add-on's URL, as `heroku pg:psql` does.
func clientCommand(env *Env, name, usage, defaultVar, program string, args func(url string, c *cli.Context) []string, extra ...cli.Flag) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "[ATTACHMENT]",
		Flags: append([]cli.Flag{appFlag}, extra...),
		Action: func(c *cli.Context) error {
			if env.Remote {
				return engine.Errorf(engine.EINVALID, "%s runs %s on your machine: use the hako CLI, or `run -a APP %s` over SSH.", name, program, program)
			}
			_, cfg, err := fetchConfig(env, c)
			if err != nil {
				return err
			}
			v := defaultVar
			if a := c.Args().First(); a != "" {
				v = a + "_URL"
			}
			url, ok := cfg[v]
			if !ok {
				return engine.Errorf(engine.EINVALID, "The app has no %s: `hako addons -a APP` lists its add-ons.", v)
			}
			if _, err := exec.LookPath(program); err != nil {
				return engine.Errorf(engine.EINVALID, "%s is not installed on this machine.", program)
			}
			cmd := exec.Command(program, args(url, c)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = env.Stdin, env.Stdout, env.Stderr
			if err := cmd.Run(); err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					return cli.Exit("", ee.ExitCode())
				}
				return err
			}
			return nil
		},
	}
}

func databaseCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		clientCommand(env, "pg:psql", "open psql on the app's database (DATABASE_URL, or ATTACHMENT_URL)", "DATABASE_URL", "psql",
			func(url string, c *cli.Context) []string {
				if q := c.String("command"); q != "" {
					return []string{url, "-c", q}
				}
				return []string{url}
			}, &cli.StringFlag{Name: "command", Aliases: []string{"c"}, Usage: "run one SQL command and exit"}),
		clientCommand(env, "redis:cli", "open redis-cli on the app's Redis (REDIS_URL, or ATTACHMENT_URL)", "REDIS_URL", "redis-cli",
			func(url string, c *cli.Context) []string { return []string{"-u", url, "--no-auth-warning"} }),
	}
}
