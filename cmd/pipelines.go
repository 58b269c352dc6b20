package cmd

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

// pipelinesCommands are Heroku's pipelines: apps grouped by stage, and
// the promotion of one stage's slug to the next.
func pipelinesCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name: "pipelines", Usage: "list pipelines, or show one: its apps by stage", ArgsUsage: "[PIPELINE]",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				if c.NArg() == 1 {
					return pipelineInfo(env, c)
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var list []api.PipelineView
				if err := cl.Do("GET", "/pipelines", nil, &list); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, list)
				}
				if len(list) == 0 {
					fmt.Fprintln(env.Stdout, "No pipelines: `hako pipelines:create NAME` makes one.")
					return nil
				}
				fmt.Fprintln(env.Stdout, "=== Pipelines")
				for _, p := range list {
					fmt.Fprintln(env.Stdout, p.Name)
				}
				return nil
			},
		},
		{
			Name: "pipelines:info", Usage: "show a pipeline: its apps by stage, their current release and commit", ArgsUsage: "PIPELINE",
			Flags:  []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error { return pipelineInfo(env, c) },
		},
		{
			Name: "pipelines:create", Usage: "create a pipeline", ArgsUsage: "NAME",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako pipelines:create NAME")
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Creating %s pipeline... ", c.Args().First())
				var p api.PipelineView
				if err := cl.Do("POST", "/pipelines", map[string]string{"name": c.Args().First()}, &p); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				fmt.Fprintln(env.Stdout, "done")
				return nil
			},
		},
		{
			Name: "pipelines:destroy", Usage: "remove a pipeline (its apps stay)", ArgsUsage: "PIPELINE",
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako pipelines:destroy PIPELINE")
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				if err := cl.Do("DELETE", "/pipelines/"+url.PathEscape(c.Args().First()), nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Destroyed %s pipeline\n", c.Args().First())
				return nil
			},
		},
		{
			Name: "pipelines:add", Usage: "add the app to a pipeline at a stage (development, staging, production)", ArgsUsage: "PIPELINE",
			Flags: []cli.Flag{appFlag, &cli.StringFlag{Name: "stage", Aliases: []string{"s"}, Usage: "development, staging or production", Required: true}},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako pipelines:add PIPELINE -a APP --stage development|staging|production")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Adding ⬢ %s to %s pipeline as %s... ", name, c.Args().First(), c.String("stage"))
				body := map[string]string{"app": name, "pipeline": c.Args().First(), "stage": c.String("stage")}
				if err := cl.Do("POST", "/pipeline-couplings", body, nil); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				fmt.Fprintln(env.Stdout, "done")
				return nil
			},
		},
		{
			Name: "pipelines:remove", Usage: "take the app out of its pipeline",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				if err := cl.Do("DELETE", "/pipeline-couplings/"+url.PathEscape(name), nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Removed ⬢ %s from its pipeline\n", name)
				return nil
			},
		},
		{
			Name: "pipelines:promote", Usage: "release the app's current slug, unbuilt, on the next stage's apps (or --to APP,…), each with its own config vars",
			Flags: []cli.Flag{appFlag, &cli.StringSliceFlag{Name: "to", Aliases: []string{"t"}, Usage: "the apps to promote to (default: every app of the next stage)"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var targets []map[string]map[string]string
				for _, t := range c.StringSlice("to") {
					for _, n := range strings.Split(t, ",") {
						if n = strings.TrimSpace(n); n != "" {
							targets = append(targets, map[string]map[string]string{"app": {"id": n}})
						}
					}
				}
				body := map[string]any{"source": map[string]any{"app": map[string]string{"id": name}}, "targets": targets}
				var p api.PromotionView
				if err := cl.Do("POST", "/pipeline-promotions", body, &p); err != nil {
					return err
				}
				failed := 0
				for _, t := range p.Targets {
					fmt.Fprintf(env.Stdout, "Promoting ⬢ %s to ⬢ %s... ", name, t.App.Name)
					if t.Status != "succeeded" {
						failed++
						msg := "failed"
						if t.ErrorMessage != nil {
							msg += ": " + *t.ErrorMessage
						}
						fmt.Fprintln(env.Stdout, msg)
						continue
					}
					fmt.Fprintf(env.Stdout, "done, v%d\n", t.Version)
				}
				if failed > 0 {
					return cli.Exit(fmt.Sprintf("The promotion failed on %d of %d apps.", failed, len(p.Targets)), 1)
				}
				return nil
			},
		},
		{
			Name: "pipelines:diff", Usage: "the commits the app runs that the next stage's apps do not",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var diffs []engine.StageDiff
				if err := cl.Do("GET", appPath(name, "/pipeline-diff"), nil, &diffs); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, diffs)
				}
				for _, d := range diffs {
					switch {
					case d.Unknown != "":
						fmt.Fprintf(env.Stdout, "⬢ %s and ⬢ %s cannot be compared: %s.\n", d.App, d.Target, d.Unknown)
					case d.AppCommit == d.TargetCommit:
						fmt.Fprintf(env.Stdout, "⬢ %s is up to date with ⬢ %s\n", d.Target, d.App)
					default:
						n := len(d.Commits)
						fmt.Fprintf(env.Stdout, "⬢ %s is ahead of ⬢ %s by %d %s:\n", d.App, d.Target, n, map[bool]string{true: "commit", false: "commits"}[n == 1])
						for _, l := range d.Commits {
							fmt.Fprintf(env.Stdout, "  %s\n", l)
						}
					}
				}
				return nil
			},
		},
	}
}

// pipelineInfo prints a pipeline's apps by stage, upstream first.
func pipelineInfo(env *Env, c *cli.Context) error {
	if c.NArg() != 1 {
		return engine.Errorf(engine.EINVALID, "Usage: hako pipelines:info PIPELINE")
	}
	cl, err := env.Client()
	if err != nil {
		return err
	}
	var p api.PipelineView
	if err := cl.Do("GET", "/pipelines/"+url.PathEscape(c.Args().First()), nil, &p); err != nil {
		return err
	}
	var cs []api.CouplingView
	if err := cl.Do("GET", "/pipelines/"+url.PathEscape(p.ID)+"/pipeline-couplings", nil, &cs); err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(env.Stdout, map[string]any{"pipeline": p, "apps": cs})
	}
	fmt.Fprintf(env.Stdout, "=== %s\n", p.Name)
	if len(cs) == 0 {
		fmt.Fprintf(env.Stdout, "No apps: `hako pipelines:add %s -a APP --stage staging` adds one.\n", p.Name)
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Stage\tApp\tRelease\tCommit")
	for _, cp := range cs {
		commit := cp.Commit
		if len(commit) > 7 {
			commit = commit[:7]
		}
		if commit == "" {
			commit = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\tv%d\t%s\n", cp.Stage, cp.App.Name, cp.Release, commit)
	}
	return tw.Flush()
}
