package cmd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

func psCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "ps",
			Usage: "list an app's process types and dynos",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var dynos []api.DynoView
				if err := cl.Do("GET", appPath(name, "/dynos"), nil, &dynos); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, dynos)
				}
				var formation []engine.FormationEntry
				if err := cl.Do("GET", appPath(name, "/formation"), nil, &formation); err != nil {
					return err
				}
				printPS(env, name, formation, dynos)
				return nil
			},
		},
		{
			Name:      "ps:scale",
			Aliases:   []string{"scale"},
			Usage:     "set how many dynos of each process type run (web=3 worker+1 …)",
			ArgsUsage: "TYPE=N ...",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var formation []engine.FormationEntry
				if err := cl.Do("GET", appPath(name, "/formation"), nil, &formation); err != nil {
					return err
				}
				if c.Args().Len() == 0 {
					printFormation(env, formation)
					return nil
				}
				updates, err := parseScale(c.Args().Slice(), formation)
				if err != nil {
					return err
				}
				fmt.Fprint(env.Stdout, "Scaling dynos... ")
				if err := cl.Do("PATCH", appPath(name, "/formation"), map[string]any{"updates": updates}, &formation); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				var now []string
				for _, f := range formation {
					now = append(now, fmt.Sprintf("%s at %d:%s", f.Type, f.Quantity, f.Size))
				}
				fmt.Fprintf(env.Stdout, "done, now running %s\n", strings.Join(now, ", "))
				return nil
			},
		},
		{
			Name:      "ps:restart",
			Aliases:   []string{"restart"},
			Usage:     "restart all dynos, one process type or one dyno",
			ArgsUsage: "[TYPE|DYNO]",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				return restart(env, c, "Restarting")
			},
		},
		{
			Name:      "ps:stop",
			Aliases:   []string{"stop"},
			Usage:     "stop a dyno or process type; dynos of the formation come back fresh, as on Heroku",
			ArgsUsage: "DYNO|TYPE",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				if c.Args().First() == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako ps:stop -a APP DYNO (e.g. web.1) or TYPE (e.g. worker)")
				}
				return restart(env, c, "Stopping")
			},
		},
	}
}

func restart(env *Env, c *cli.Context, verb string) error {
	name, cl, err := appClient(env, c)
	if err != nil {
		return err
	}
	target := c.Args().First()
	what, path := "dynos", appPath(name, "/dynos")
	if target != "" {
		what, path = target+" dynos", appPath(name, "/dynos/"+target)
		if strings.Contains(target, ".") {
			what = target + " dyno"
		}
	}
	method := "DELETE"
	if verb == "Stopping" {
		method, path = "POST", path+"/actions/stop"
	}
	return progress(env.Stdout, fmt.Sprintf("%s %s on ⬢ %s", verb, what, name), func() error { return cl.Do(method, path, nil, nil) })
}

// parseScale reads TYPE=N, TYPE+N and TYPE-N against the current
// formation.
func parseScale(args []string, formation []engine.FormationEntry) ([]map[string]any, error) {
	cur := map[string]int{}
	for _, f := range formation {
		cur[f.Type] = f.Quantity
	}
	var updates []map[string]any
	for _, a := range args {
		i := strings.IndexAny(a, "=+-")
		if i <= 0 || i == len(a)-1 {
			return nil, engine.Errorf(engine.EINVALID, "%q is not TYPE=N (or TYPE+N, TYPE-N). Usage: hako ps:scale -a APP web=2 worker=1", a)
		}
		t, op, num := a[:i], a[i], a[i+1:]
		n, err := strconv.Atoi(num)
		if err != nil {
			return nil, engine.Errorf(engine.EINVALID, "%q: %q is not a number of dynos.", a, num)
		}
		switch op {
		case '+':
			n = cur[t] + n
		case '-':
			n = cur[t] - n
		}
		updates = append(updates, map[string]any{"type": t, "quantity": n})
	}
	return updates, nil
}

func printFormation(env *Env, formation []engine.FormationEntry) {
	var parts []string
	for _, f := range formation {
		parts = append(parts, fmt.Sprintf("%s=%d:%s", f.Type, f.Quantity, f.Size))
	}
	fmt.Fprintln(env.Stdout, strings.Join(parts, " "))
}

// printPS prints `heroku ps`: each process type with its command and
// quantity, then its dynos with state and since when.
func printPS(env *Env, name string, formation []engine.FormationEntry, dynos []api.DynoView) {
	var runs []api.DynoView
	for _, d := range dynos {
		if d.Type == "run" {
			runs = append(runs, d)
		}
	}
	if len(runs) > 0 {
		fmt.Fprintf(env.Stdout, "=== run: one-off processes (%d)\n", len(runs))
		for _, d := range runs {
			fmt.Fprintf(env.Stdout, "%s (Basic): %s %s (~ %s ago): %s\n", d.Name, d.State, d.UpdatedAt.UTC().Format("2006/01/02 15:04:05 -0700"), ago(time.Since(d.UpdatedAt)), d.Command)
		}
		if len(formation) > 0 {
			fmt.Fprintln(env.Stdout)
		}
	}
	if len(formation) == 0 {
		if len(runs) == 0 {
			fmt.Fprintf(env.Stdout, "No dynos on ⬢ %s\n", name)
		}
		return
	}
	for i, f := range formation {
		if i > 0 {
			fmt.Fprintln(env.Stdout)
		}
		fmt.Fprintf(env.Stdout, "=== %s (%s): %s (%d)\n", f.Type, f.Size, f.Command, f.Quantity)
		for _, d := range dynos {
			if d.Type == f.Type {
				fmt.Fprintf(env.Stdout, "%s: %s %s (~ %s ago)\n", d.Name, d.State, d.UpdatedAt.UTC().Format("2006/01/02 15:04:05 -0700"), ago(time.Since(d.UpdatedAt)))
			}
		}
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
