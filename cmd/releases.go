package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine/api"
)

func releasesCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "releases",
			Usage: "list an app's releases, newest first",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}, &cli.IntFlag{Name: "num", Aliases: []string{"n"}, Value: 15, Usage: "how many releases to show"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var rels []api.ReleaseView
				if err := cl.Do("GET", appPath(name, "/releases"), nil, &rels); err != nil {
					return err
				}
				// The API lists oldest first, as Heroku's does.
				for i, j := 0, len(rels)-1; i < j; i, j = i+1, j-1 {
					rels[i], rels[j] = rels[j], rels[i]
				}
				if n := c.Int("num"); n > 0 && len(rels) > n {
					rels = rels[:n]
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, rels)
				}
				cur := 0
				for _, r := range rels {
					if r.Current {
						cur = r.Version
					}
				}
				fmt.Fprintf(env.Stdout, "=== ⬢ %s Releases - Current: v%d\n", name, cur)
				width := 0
				for _, r := range rels {
					width = max(width, len(describe(r)))
				}
				for _, r := range rels {
					fmt.Fprintf(env.Stdout, "%-4s %-*s %s %s (~ %s ago)\n", fmt.Sprintf("v%d", r.Version), width, describe(r), r.User.Email,
						r.CreatedAt.UTC().Format("2006/01/02 15:04:05 -0700"), ago(time.Since(r.CreatedAt)))
				}
				return nil
			},
		},
		{
			Name:      "releases:info",
			Usage:     "show one release (default: the current one)",
			ArgsUsage: "[vN]",
			Flags:     []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				v := c.Args().First()
				if v == "" {
					v = "current"
				}
				var r api.ReleaseView
				if err := cl.Do("GET", appPath(name, "/releases/"+strings.ToLower(v)), nil, &r); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, r)
				}
				fmt.Fprintf(env.Stdout, "=== Release v%d\n", r.Version)
				slug := ""
				if r.Slug != nil {
					slug = r.Slug.ID
				}
				if r.SlugRemoved {
					slug += " (removed: only the latest releases' slugs are kept, see --keep-slugs)"
				}
				printFields(env.Stdout, [][2]string{
					{"Add-ons", ""},
					{"By", r.User.Email},
					{"Change", r.Description},
					{"Commit", r.Commit},
					{"Current", fmt.Sprint(r.Current)},
					{"Slug", slug},
					{"Status", r.Status},
					{"When", r.CreatedAt.UTC().Format(time.RFC3339)},
				})
				if len(r.AppJSON) > 0 {
					var pretty bytes.Buffer
					if json.Indent(&pretty, r.AppJSON, "", "  ") != nil {
						pretty.Reset()
						pretty.Write(r.AppJSON)
					}
					fmt.Fprintf(env.Stdout, "\n=== app.json\n%s\n", pretty.String())
				}
				return nil
			},
		},
		{
			Name:      "releases:rollback",
			Aliases:   []string{"rollback"},
			Usage:     "roll back to a release's slug and config vars (default: the one before current)",
			ArgsUsage: "[vN]",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				target := c.Args().First()
				if target == "" {
					var cur api.ReleaseView
					if err := cl.Do("GET", appPath(name, "/releases/current"), nil, &cur); err != nil {
						return err
					}
					target = fmt.Sprintf("v%d", cur.Version-1)
				}
				fmt.Fprintf(env.Stdout, "Rolling back ⬢ %s to %s... ", name, target)
				var r api.ReleaseView
				if err := cl.Do("POST", appPath(name, "/releases"), map[string]string{"release": target}, &r); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				fmt.Fprintf(env.Stdout, "done, v%d\n", r.Version)
				return nil
			},
		},
	}
}

// describe is a release's description with its status when it is not a
// plain success, as `heroku releases` shows it.
func describe(r api.ReleaseView) string {
	switch r.Status {
	case "failed":
		return r.Description + " (release command failed)"
	case "pending":
		return r.Description + " (release command executing)"
	}
	return r.Description
}
