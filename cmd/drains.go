package cmd

import (
	"fmt"
	"net/url"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

func drainsCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name: "drains", Usage: "list where the app's logs are sent",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var ds []api.DrainView
				if err := cl.Do("GET", appPath(name, "/log-drains"), nil, &ds); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, ds)
				}
				if len(ds) == 0 {
					fmt.Fprintf(env.Stdout, "⬢ %s has no drains.\n", name)
					return nil
				}
				fmt.Fprintln(env.Stdout, "=== Drains")
				for _, d := range ds {
					fmt.Fprintf(env.Stdout, "%s (%s)\n", d.URL, d.Token)
				}
				return nil
			},
		},
		{
			Name: "drains:add", Usage: "send the app's logs to a syslog server (syslog://HOST:PORT) or an HTTP endpoint", ArgsUsage: "URL",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				u := c.Args().First()
				if u == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako drains:add -a APP URL (syslog://HOST:PORT or https://HOST/PATH)")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var d api.DrainView
				if err := cl.Do("POST", appPath(name, "/log-drains"), map[string]string{"url": u}, &d); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Successfully added drain %s\n", d.URL)
				return nil
			},
		},
		{
			Name: "drains:remove", Usage: "stop sending the app's logs to a drain", ArgsUsage: "URL|ID",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				u := c.Args().First()
				if u == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako drains:remove -a APP URL")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var d api.DrainView
				if err := cl.Do("DELETE", appPath(name, "/log-drains/"+url.PathEscape(u)), nil, &d); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Successfully removed drain %s\n", d.URL)
				return nil
			},
		},
	}
}
