package cmd

import (
	"fmt"
	"net/url"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
)

func psCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "ps",
			Usage: "list an app's dynos",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, err := appName(c)
				if err != nil {
					return err
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var dynos []engine.DynoStatus
				if err := cl.Do("GET", "/apps/"+url.PathEscape(name)+"/dynos", nil, &dynos); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, dynos)
				}
				if len(dynos) == 0 {
					fmt.Fprintf(env.Stdout, "No dynos on ⬢ %s\n", name)
					return nil
				}
				last := ""
				for _, d := range dynos {
					if d.Type != last {
						n := 0
						for _, o := range dynos {
							if o.Type == d.Type {
								n++
							}
						}
						fmt.Fprintf(env.Stdout, "=== %s (Basic): %s (%d)\n", d.Type, d.Command, n)
						last = d.Type
					}
					fmt.Fprintf(env.Stdout, "%s: %s %s (~ %s ago)\n", d.Name, d.State, d.Since.UTC().Format("2006/01/02 15:04:05 -0700"), ago(time.Since(d.Since)))
				}
				return nil
			},
		},
	}
}

// ago rounds a duration the way `heroku ps` shows it.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
