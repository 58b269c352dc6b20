package cmd

import (
	"net/url"
	"os"
	"os/exec"
	"strings"

	"github.com/urfave/cli/v2"

	"hako/engine"
)

// clientCommand opens a database's own client (psql, redis-cli) on this
// machine against an add-on's URL, as `heroku pg:psql` does.
// args returns the program's arguments and the variables to add to its
// environment.
func clientCommand(env *Env, name, usage, defaultVar, program string, args func(url string, c *cli.Context) ([]string, []string, error), extra ...cli.Flag) *cli.Command {
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
				v = strings.TrimSuffix(a, "_URL") + "_URL"
			}
			url, ok := cfg[v]
			if !ok {
				return engine.Errorf(engine.EINVALID, "The app has no %s: `hako addons -a APP` lists its add-ons.", v)
			}
			if _, err := exec.LookPath(program); err != nil {
				return engine.Errorf(engine.EINVALID, "%s is not installed on this machine.", program)
			}
			argv, environ, err := args(url, c)
			if err != nil {
				return err
			}
			cmd := exec.Command(program, argv...)
			if len(environ) > 0 {
				cmd.Env = append(os.Environ(), environ...)
			}
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
			func(url string, c *cli.Context) ([]string, []string, error) {
				if q := c.String("command"); q != "" {
					return []string{url, "-c", q}, nil, nil
				}
				return []string{url}, nil, nil
			}, &cli.StringFlag{Name: "command", Aliases: []string{"c"}, Usage: "run one SQL command and exit"}),
		clientCommand(env, "redis:cli", "open redis-cli on the app's Redis (REDIS_URL, or ATTACHMENT_URL)", "REDIS_URL", "redis-cli",
			func(url string, c *cli.Context) ([]string, []string, error) { return redisCLIArgs(url) }),
		pgInfoCommand(env),
		pgRotateCommand(env),
		redisCredentialsCommand(env),
	}
}

// redisCLIArgs turns a Redis URL into redis-cli arguments that work with
// redis-cli 6 and 7 alike. `redis-cli -u redis://:PASS@HOST` sends an
// empty user name with the password in redis-cli 7, which the server
// refuses; and a password on the command line shows in the process list.
// So the URL is taken apart: host, port, database and TLS as flags, the
// user only when it is not Redis's default one, the password in
// REDISCLI_AUTH.
func redisCLIArgs(raw string) ([]string, []string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Hostname() == "" {
		return nil, nil, engine.Errorf(engine.EINVALID, "The add-on URL is not a redis:// URL.")
	}
	argv := []string{"-h", u.Hostname()}
	if p := u.Port(); p != "" {
		argv = append(argv, "-p", p)
	}
	if u.Scheme == "rediss" {
		argv = append(argv, "--tls")
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		argv = append(argv, "-n", db)
	}
	var environ []string
	if u.User != nil {
		if name := u.User.Username(); name != "" && name != "default" {
			argv = append(argv, "--user", name)
		}
		if pw, ok := u.User.Password(); ok {
			environ = append(environ, "REDISCLI_AUTH="+pw)
		}
	}
	return argv, environ, nil
}
