package cmd

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

func domainsCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "domains",
			Usage: "list the hostnames the router sends to the app",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var a api.AppView
				if err := cl.Do("GET", appPath(name, ""), nil, &a); err != nil {
					return err
				}
				var ds []api.DomainView
				if err := cl.Do("GET", appPath(name, "/domains"), nil, &ds); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, ds)
				}
				fmt.Fprintf(env.Stdout, "=== ⬢ %s hako Domain\n%s\n", name, a.WebURL)
				var custom []string
				for _, d := range ds {
					if d.Kind == "custom" {
						custom = append(custom, d.Hostname)
					}
				}
				if len(custom) > 0 {
					fmt.Fprintf(env.Stdout, "\n=== ⬢ %s Custom Domains\n%s\n", name, strings.Join(custom, "\n"))
				}
				return nil
			},
		},
		{
			Name: "domains:add", Usage: "send a custom hostname to the app (point its DNS, or /etc/hosts, at this machine)", ArgsUsage: "HOSTNAME",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				host := c.Args().First()
				if host == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako domains:add -a APP HOSTNAME (e.g. www.example.test)")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				if err := progress(env.Stdout, fmt.Sprintf("Adding %s to ⬢ %s", host, name), func() error {
					return cl.Do("POST", appPath(name, "/domains"), map[string]string{"hostname": host}, nil)
				}); err != nil {
					return err
				}
				return nil
			},
		},
		{
			Name: "domains:remove", Usage: "stop sending a hostname to the app", ArgsUsage: "HOSTNAME",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				host := c.Args().First()
				if host == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako domains:remove -a APP HOSTNAME")
				}
				return removeDomains(env, c, host)
			},
		},
		{
			Name: "domains:clear", Usage: "remove all the app's custom hostnames",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				return removeDomains(env, c, "")
			},
		},
	}
}

func removeDomains(env *Env, c *cli.Context, host string) error {
	name, cl, err := appClient(env, c)
	if err != nil {
		return err
	}
	what, path := "all domains", appPath(name, "/domains")
	if host != "" {
		what, path = host, path+"/"+url.PathEscape(host)
	}
	if err := progress(env.Stdout, fmt.Sprintf("Removing %s from ⬢ %s", what, name), func() error { return cl.Do("DELETE", path, nil, nil) }); err != nil {
		return err
	}
	return nil
}
