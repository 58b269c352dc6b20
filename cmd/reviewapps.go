package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"hako/engine/api"
)

// reviewAppsCommands turn a parent app's review apps on and off, and list
// them: an app per pushed branch.
func reviewAppsCommands(env *Env) []*cli.Command {
	set := func(enabled bool) func(c *cli.Context) error {
		return func(c *cli.Context) error {
			name, cl, err := appClient(env, c)
			if err != nil {
				return err
			}
			var v api.ReviewAppsView
			body := map[string]bool{"enabled": enabled, "fork_db": c.Bool("fork-db")}
			if err := cl.Do("PUT", appPath(name, "/review-app-config"), body, &v); err != nil {
				return err
			}
			switch {
			case !enabled:
				fmt.Fprintf(env.Stdout, "Review apps disabled on ⬢ %s: branches pushed to it are stored, not deployed; its %d review apps stay until their branch is deleted.\n", name, len(v.Apps))
			case v.ForkDB:
				fmt.Fprintf(env.Stdout, "Review apps enabled on ⬢ %s, each with a fork of its database: `git push hako BRANCH` deploys BRANCH to its own app.\n", name)
			default:
				fmt.Fprintf(env.Stdout, "Review apps enabled on ⬢ %s: `git push hako BRANCH` deploys BRANCH to its own app.\n", name)
			}
			return nil
		}
	}
	return []*cli.Command{
		{
			Name: "reviewapps", Usage: "list the app's review apps: one per pushed branch",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var v api.ReviewAppsView
				if err := cl.Do("GET", appPath(name, "/review-apps"), nil, &v); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, v)
				}
				state := "disabled"
				if v.Enabled {
					state = "enabled"
					if v.ForkDB {
						state += ", forking the database"
					}
				}
				fmt.Fprintf(env.Stdout, "=== ⬢ %s Review apps (%s)\n", name, state)
				if len(v.Apps) == 0 {
					fmt.Fprintln(env.Stdout, "No review apps.")
					return nil
				}
				tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "App\tBranch\tRelease\tCommit\tURL")
				for _, a := range v.Apps {
					commit := a.Commit
					if len(commit) > 7 {
						commit = commit[:7]
					}
					fmt.Fprintf(tw, "%s\t%s\tv%d\t%s\t%s\n", a.Name, a.Branch, a.Release, commit, a.WebURL)
				}
				return tw.Flush()
			},
		},
		{
			Name: "reviewapps:enable", Usage: "deploy each branch pushed to the app (but main and master) to a review app of its own",
			Flags:  []cli.Flag{appFlag, &cli.BoolFlag{Name: "fork-db", Usage: "give each review app a copy of this app's DATABASE"}},
			Action: set(true),
		},
		{
			Name: "reviewapps:disable", Usage: "stop making review apps (those there are stay)",
			Flags:  []cli.Flag{appFlag},
			Action: set(false),
		},
	}
}
