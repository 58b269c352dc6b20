package cmd

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

// schedulerCommands are Heroku Scheduler's jobs as commands: list, add,
// remove and run now.
func schedulerCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name: "scheduler", Usage: "list the app's scheduled jobs",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var jobs []api.SchedulerJobView
				if err := cl.Do("GET", appPath(name, "/scheduler-jobs"), nil, &jobs); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, jobs)
				}
				if len(jobs) == 0 {
					fmt.Fprintf(env.Stdout, "⬢ %s has no scheduled jobs.\n", name)
					return nil
				}
				fmt.Fprintf(env.Stdout, "=== ⬢ %s Scheduled jobs\n", name)
				tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSchedule\tCommand\tNext run\tLast run")
				for _, j := range jobs {
					next, last := "never", "never"
					if j.NextRun != nil {
						next = j.NextRun.UTC().Format(time.RFC3339)
					}
					if j.LastRun != nil {
						last = j.LastRun.UTC().Format(time.RFC3339) + " (running)"
						if j.LastStatus != nil {
							last = fmt.Sprintf("%s (exit %d)", j.LastRun.UTC().Format(time.RFC3339), *j.LastStatus)
						}
					}
					sched := j.Schedule
					if j.Declared {
						sched += " (app.json)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.ID, sched, j.Command, next, last)
				}
				return tw.Flush()
			},
		},
		{
			Name: "scheduler:add", Usage: `run a command on a schedule ("*/10 * * * *", @hourly, @daily, "every 10m") in its own dyno`,
			ArgsUsage: "-- COMMAND",
			Flags:     []cli.Flag{appFlag, &cli.StringFlag{Name: "schedule", Usage: `when: a cron line ("*/10 * * * *"), @hourly, @daily or "every 10m" (UTC)`, Required: true}},
			Action: func(c *cli.Context) error {
				command := strings.Join(c.Args().Slice(), " ")
				if strings.TrimSpace(command) == "" {
					return engine.Errorf(engine.EINVALID, `Usage: hako scheduler:add -a APP --schedule "*/10 * * * *" -- COMMAND`)
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var j api.SchedulerJobView
				if err := cl.Do("POST", appPath(name, "/scheduler-jobs"), map[string]string{"schedule": c.String("schedule"), "command": command}, &j); err != nil {
					return err
				}
				next := "never"
				if j.NextRun != nil {
					next = j.NextRun.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(env.Stdout, "Added job %s to ⬢ %s: `%s` at %s, next run %s\n", j.ID, name, j.Command, j.Schedule, next)
				return nil
			},
		},
		{
			Name: "scheduler:remove", Usage: "remove a scheduled job", ArgsUsage: "ID",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				id := c.Args().First()
				if id == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako scheduler:remove -a APP ID (`hako scheduler -a APP` lists them)")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				if err := cl.Do("DELETE", appPath(name, "/scheduler-jobs/"+url.PathEscape(id)), nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Removed job %s from ⬢ %s\n", id, name)
				return nil
			},
		},
		{
			Name: "scheduler:run", Usage: "run a scheduled job now, in its own dyno", ArgsUsage: "ID",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				id := c.Args().First()
				if id == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako scheduler:run -a APP ID (`hako scheduler -a APP` lists them)")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var res struct {
					Dyno string `json:"dyno"`
				}
				if err := cl.Do("POST", appPath(name, "/scheduler-jobs/"+url.PathEscape(id)+"/actions/run"), nil, &res); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Running job %s on ⬢ %s... up, %s\n", id, name, res.Dyno)
				return nil
			},
		},
	}
}
