package cmd

import (
	"fmt"
	"net/url"

	"github.com/urfave/cli/v2"

	"hako/engine/api"
)

// redisCredentialsCommand is Heroku's redis:credentials: the URL of the
// app's Redis (the only one, or the one named as the heroku CLI's redis
// commands name it), and with --reset a new password for it, set on
// every app it is attached to in a release that restarts its dynos.
// Heroku asks for no confirmation before a reset, nor does hako.
func redisCredentialsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name: "redis:credentials", Usage: "print the URL of the app's Redis; --reset gives it a new password on every app it is attached to (each restarts)", ArgsUsage: "[DATABASE]",
		Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "reset", Usage: "reset credentials"}},
		Action: func(c *cli.Context) error {
			name, cl, err := appClient(env, c)
			if err != nil {
				return err
			}
			path := appPath(name, "/redis-credentials")
			if db := c.Args().First(); db != "" {
				path += "?database=" + url.QueryEscape(db)
			}
			var cred api.RedisCredentialsView
			if err := cl.Do("GET", path, nil, &cred); err != nil {
				return err
			}
			if !c.Bool("reset") {
				fmt.Fprintln(env.Stdout, cred.URL)
				return nil
			}
			fmt.Fprintf(env.Stdout, "Resetting credentials for %s\n", cred.Addon.Name)
			var rot api.RotationView
			if err := cl.Do("POST", appPath(name, "/redis-actions/reset-credentials"), map[string]string{"database": cred.Addon.ID}, &rot); err != nil {
				return err
			}
			for _, rel := range rot.Releases {
				fmt.Fprintf(env.Stdout, "⬢ %s: v%d %s\n", rel.App, rel.Version, rel.Description)
			}
			return nil
		},
	}
}
