package cmd

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

// pgInfoCommand is Heroku's pg:info: the app's PostgreSQL databases, its
// own and those of other apps attached to it, or the one named (an
// attachment, its config var, the add-on's name, OTHER::DATABASE).
func pgInfoCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name: "pg:info", Aliases: []string{"pg"}, Usage: "show the app's databases (its own and those attached to it) or the one named", ArgsUsage: "[DATABASE]",
		Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			name, cl, err := appClient(env, c)
			if err != nil {
				return err
			}
			path := appPath(name, "/pg-databases")
			if db := c.Args().First(); db != "" {
				path += "?database=" + url.QueryEscape(db)
			}
			var list []api.PGDatabaseView
			if err := cl.Do("GET", path, nil, &list); err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(env.Stdout, list)
			}
			if len(list) == 0 {
				fmt.Fprintf(env.Stdout, "⬢ %s has no heroku-postgresql databases.\n", name)
				return nil
			}
			for _, d := range list {
				printPGDatabase(env, d)
			}
			return nil
		},
	}
}

// printPGDatabase writes one database as Heroku's pg:info does: its
// config vars as the heading, then its rows, with the owning app as
// "Billing App" when it is another's.
func printPGDatabase(env *Env, d api.PGDatabaseView) {
	rows := [][2]string{}
	for _, r := range d.Info {
		if len(r.Values) > 0 {
			rows = append(rows, [2]string{r.Name, strings.Join(r.Values, ", ")})
		}
	}
	if d.Addon.App.Name != d.App {
		rows = append(rows, [2]string{"Billing App", "⬢ " + d.Addon.App.Name})
	}
	rows = append(rows, [2]string{"Add-on", d.Addon.Name})
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0])+1)
	}
	fmt.Fprintf(env.Stdout, "=== %s\n", strings.Join(d.ConfigVars, ", "))
	for _, r := range rows {
		fmt.Fprintf(env.Stdout, "%-*s %s\n", width, r[0]+":", r[1])
	}
	fmt.Fprintln(env.Stdout)
}

// pgRotateCommand is Heroku's pg:credentials:rotate: a new password for
// the database, set on every app it is attached to in a release that
// restarts its dynos.
func pgRotateCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name: "pg:credentials:rotate", Usage: "give the database a new password, on every app it is attached to (each restarts)", ArgsUsage: "[DATABASE]",
		Flags: []cli.Flag{appFlag, &cli.StringFlag{Name: "confirm", Aliases: []string{"c"}, Usage: "the app's name, to say you mean it"}},
		Action: func(c *cli.Context) error {
			name, cl, err := appClient(env, c)
			if err != nil {
				return err
			}
			if c.String("confirm") != name {
				return engine.Errorf(engine.EINVALID, "This rotates the password of %s's database %s: connections are reset and every app it is attached to restarts. To proceed, re-run this command with --confirm %s", name, dbName(c), name)
			}
			var rot api.RotationView
			if err := progress(env.Stdout, fmt.Sprintf("Rotating the credentials of %s of ⬢ %s", dbName(c), name), func() error {
				return cl.Do("POST", appPath(name, "/pg-actions/rotate-credentials"), map[string]string{"database": c.Args().First(), "confirm": c.String("confirm")}, &rot)
			}); err != nil {
				return err
			}
			for _, rel := range rot.Releases {
				fmt.Fprintf(env.Stdout, "⬢ %s: v%d %s\n", rel.App, rel.Version, rel.Description)
			}
			return nil
		},
	}
}
