package cmd

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

func appsCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "apps",
			Usage: "list your apps",
			Action: func(c *cli.Context) error {
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var apps []api.AppView
				if err := cl.Do("GET", "/apps", nil, &apps); err != nil {
					return err
				}
				fmt.Fprintln(env.Stdout, "=== Apps")
				if len(apps) == 0 {
					fmt.Fprintln(env.Stdout, "You have no apps: create one with `hako apps:create NAME`.")
				}
				for _, a := range apps {
					fmt.Fprintln(env.Stdout, a.Name)
				}
				return nil
			},
		},
		{
			Name:      "apps:create",
			Aliases:   []string{"create"},
			Usage:     "create a new app (no NAME: a generated one)",
			ArgsUsage: "[NAME]",
			Action: func(c *cli.Context) error {
				name := c.Args().First()
				if c.Args().Len() > 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako apps:create [NAME] (one app name, e.g. my-app)")
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				shown := name
				if shown == "" {
					shown = "app"
				}
				fmt.Fprintf(env.Stdout, "Creating ⬢ %s... ", shown)
				var a api.AppView
				if err := cl.Do("POST", "/apps", map[string]string{"name": name}, &a); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				if name == "" {
					fmt.Fprintf(env.Stdout, "done, ⬢ %s\n", a.Name)
				} else {
					fmt.Fprintln(env.Stdout, "done")
				}
				fmt.Fprintf(env.Stdout, "%s | %s\n", a.WebURL, a.GitURL)
				return nil
			},
		},
		{
			Name:    "apps:info",
			Aliases: []string{"info"},
			Usage:   "show an app's details",
			Flags:   []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, err := appName(c)
				if err != nil {
					return err
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var a api.AppView
				if err := cl.Do("GET", "/apps/"+url.PathEscape(name), nil, &a); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, a)
				}
				var dynos []api.DynoView
				if err := cl.Do("GET", "/apps/"+url.PathEscape(name)+"/dynos", nil, &dynos); err != nil {
					return err
				}
				var addons []api.AddonView
				if err := cl.Do("GET", "/apps/"+url.PathEscape(name)+"/addons", nil, &addons); err != nil {
					return err
				}
				var names []string
				for _, ad := range addons {
					names = append(names, ad.Name)
				}
				fmt.Fprintf(env.Stdout, "=== %s\n", a.Name)
				printFields(env.Stdout, [][2]string{
					{"Addons", strings.Join(names, ", ")},
					{"Dynos", dynoSummary(dynos)},
					{"Git URL", a.GitURL},
					{"Isolation", a.Isolation},
					{"Limits", a.Limits},
					{"Release", fmt.Sprintf("v%d", a.Release)},
					{"Released At", a.ReleasedAt.UTC().Format(time.RFC3339)},
					{"Stack", a.Stack.Name},
					{"Web URL", a.WebURL},
				})
				return nil
			},
		},
		{
			Name:    "apps:destroy",
			Aliases: []string{"destroy"},
			Usage:   "permanently destroy an app, its releases, slugs and repository",
			Flags:   []cli.Flag{appFlag, &cli.StringFlag{Name: "confirm", Usage: "the app's name, to confirm"}},
			Action: func(c *cli.Context) error {
				name := c.String("app")
				if name == "" {
					name = c.Args().First()
				}
				if name == "" {
					return engine.Errorf(engine.EINVALID, "Missing required flag: -a, --app APP (the app to destroy)")
				}
				if err := engine.ValidateAppName(name); err != nil {
					return err
				}
				if c.String("confirm") != name {
					return engine.Errorf(engine.EINVALID, "This destroys %s and all its data. To proceed, re-run this command with --confirm %s", name, name)
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				if err := progress(env.Stdout, fmt.Sprintf("Destroying ⬢ %s (including all add-ons)", name), func() error { return cl.Do("DELETE", "/apps/"+url.PathEscape(name), nil, nil) }); err != nil {
					return err
				}
				return nil
			},
		},
	}
}

func dynoSummary(ds []api.DynoView) string {
	if len(ds) == 0 {
		return "none"
	}
	n := map[string]int{}
	var order []string
	for _, d := range ds {
		if n[d.Type] == 0 {
			order = append(order, d.Type)
		}
		n[d.Type]++
	}
	s := ""
	for i, t := range order {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s: %d", t, n[t])
	}
	return s
}
