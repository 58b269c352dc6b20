package cmd

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"hako/engine/api"
)

func maintenanceCommands(env *Env) []*cli.Command {
	set := func(on bool, verb string) func(c *cli.Context) error {
		return func(c *cli.Context) error {
			name, cl, err := appClient(env, c)
			if err != nil {
				return err
			}
			if err := progress(env.Stdout, fmt.Sprintf("%s maintenance mode for ⬢ %s", verb, name), func() error { return cl.Do("PATCH", appPath(name, ""), map[string]bool{"maintenance": on}, nil) }); err != nil {
				return err
			}
			return nil
		}
	}
	return []*cli.Command{
		{
			Name: "maintenance", Usage: "show whether the app is in maintenance mode",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var a api.AppView
				if err := cl.Do("GET", appPath(name, ""), nil, &a); err != nil {
					return err
				}
				if a.Maintenance {
					fmt.Fprintln(env.Stdout, "on")
				} else {
					fmt.Fprintln(env.Stdout, "off")
				}
				return nil
			},
		},
		{Name: "maintenance:on", Usage: "answer every request with the maintenance page (H80); dynos keep running", Flags: []cli.Flag{appFlag}, Action: set(true, "Enabling")},
		{Name: "maintenance:off", Usage: "serve the app again", Flags: []cli.Flag{appFlag}, Action: set(false, "Disabling")},
	}
}
