package cmd

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

// buildListCommands are Heroku's builds, builds:info and builds:output
// (the heroku-builds plugin's): an app's builds, pushes included, as the
// store keeps them across restarts.
func buildListCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "builds",
			Usage: "list an app's builds, newest first",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}, &cli.IntFlag{Name: "num", Aliases: []string{"n"}, Value: 15, Usage: "how many builds to show"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var builds []api.BuildView
				if err := cl.Do("GET", appPath(name, "/builds"), nil, &builds); err != nil {
					return err
				}
				// The API lists oldest first, as Heroku's does.
				for i, j := 0, len(builds)-1; i < j; i, j = i+1, j-1 {
					builds[i], builds[j] = builds[j], builds[i]
				}
				if n := c.Int("num"); n > 0 && len(builds) > n {
					builds = builds[:n]
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, builds)
				}
				fmt.Fprintf(env.Stdout, "=== ⬢ %s Builds\n", name)
				for _, b := range builds {
					fmt.Fprintf(env.Stdout, "%s  %-9s  %-7s  %s %s (~ %s ago)\n", b.ID, b.Status, shortVersion(b), b.User.Email,
						b.CreatedAt.UTC().Format("2006/01/02 15:04:05 -0700"), ago(time.Since(b.CreatedAt)))
				}
				return nil
			},
		},
		{
			Name:      "builds:info",
			Usage:     "show one build (default: the latest)",
			ArgsUsage: "[ID]",
			Flags:     []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				b, err := findBuild(cl, name, c.Args().First())
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, b)
				}
				var packs []string
				for _, p := range b.Buildpacks {
					packs = append(packs, p.URL)
				}
				release := ""
				if b.Release != nil {
					release = b.Release.ID
				}
				version := ""
				if b.SourceBlob.Version != nil {
					version = *b.SourceBlob.Version
				}
				fmt.Fprintf(env.Stdout, "=== Build %s\n", b.ID)
				printFields(env.Stdout, [][2]string{
					{"Buildpacks", strings.Join(packs, ", ")},
					{"By", b.User.Email},
					{"Output", b.OutputStreamURL},
					{"Release", release},
					{"Status", b.Status},
					{"Version", version},
					{"When", b.CreatedAt.UTC().Format(time.RFC3339)},
				})
				return nil
			},
		},
		{
			Name:      "builds:output",
			Usage:     "print a build's output (default: the latest), following it while it runs",
			ArgsUsage: "[ID]",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				b, err := findBuild(cl, name, c.Args().First())
				if err != nil {
					return err
				}
				resp, err := cl.streaming().Get(b.OutputStreamURL)
				if err != nil {
					return engine.Errorf(engine.EINTERNAL, "Cannot read the build's output: %v", err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != 200 {
					data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
					return apiError(resp.Status, data)
				}
				_, err = io.Copy(env.Stdout, resp.Body)
				return err
			},
		},
	}
}

// findBuild returns the app's build id, or its latest for "". Returns
// ENOTFOUND.
func findBuild(cl *Client, app, id string) (*api.BuildView, error) {
	if id != "" {
		var b api.BuildView
		if err := cl.Do("GET", appPath(app, "/builds/"+url.PathEscape(id)), nil, &b); err != nil {
			return nil, err
		}
		return &b, nil
	}
	var builds []api.BuildView
	if err := cl.Do("GET", appPath(app, "/builds"), nil, &builds); err != nil {
		return nil, err
	}
	if len(builds) == 0 {
		return nil, engine.Errorf(engine.ENOTFOUND, "⬢ %s has no builds yet: push, or run builds:create.", app)
	}
	return &builds[len(builds)-1], nil
}

// shortVersion is a build's source version, a commit shortened.
func shortVersion(b api.BuildView) string {
	if b.SourceBlob.Version == nil {
		return ""
	}
	v := *b.SourceBlob.Version
	if len(v) == 40 && strings.Trim(v, "0123456789abcdef") == "" {
		return v[:7]
	}
	return v
}
