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

func addonsCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "addons",
			Usage: "list the app's add-ons",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var list []api.AddonView
				if err := cl.Do("GET", appPath(name, "/addons"), nil, &list); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, list)
				}
				if len(list) == 0 {
					fmt.Fprintf(env.Stdout, "No add-ons for ⬢ %s: `hako addons:create heroku-postgresql -a %s` adds a database.\n", name, name)
					return nil
				}
				var ats []api.AttachmentView
				if err := cl.Do("GET", appPath(name, "/addon-attachments"), nil, &ats); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "=== ⬢ %s Add-ons\n", name)
				for _, a := range list {
					owner := ""
					if a.App.Name != name {
						owner = "  (of ⬢ " + a.App.Name + ")"
					}
					fmt.Fprintf(env.Stdout, "%s (%s)  %s  %s%s\n", a.AddonService.Name, a.Name, a.Plan.Name, a.State, owner)
					for _, at := range ats {
						if at.Addon.ID == a.ID {
							fmt.Fprintf(env.Stdout, " └─ as %s\n", at.Name)
						}
					}
				}
				return nil
			},
		},
		{
			Name:      "addons:create",
			Usage:     "provision an add-on (heroku-postgresql, heroku-redis) and attach it: its URL becomes a config var",
			ArgsUsage: "SERVICE[:PLAN]",
			Flags:     []cli.Flag{appFlag, &cli.StringFlag{Name: "as", Usage: "the attachment name (DATABASE gives DATABASE_URL)"}},
			Action: func(c *cli.Context) error {
				service := c.Args().First()
				if service == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako addons:create -a APP SERVICE[:PLAN] (heroku-postgresql or heroku-redis)")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Creating %s on ⬢ %s... ", service, name)
				var a api.AddonView
				body := map[string]any{"plan": service, "attachment": map[string]string{"name": c.String("as")}}
				if err := cl.Do("POST", appPath(name, "/addons"), body, &a); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				fmt.Fprintln(env.Stdout, "done")
				fmt.Fprintf(env.Stdout, "Created %s as %s\n", a.Name, strings.Join(a.ConfigVars, ", "))
				return nil
			},
		},
		{
			Name:      "addons:info",
			Usage:     "show an add-on: its plan, attachment, and how much of the plan it uses",
			ArgsUsage: "ADDON",
			Flags:     []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako addons:info -a APP ADDON (ADDON: its name or attachment, from `hako addons`)")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var a api.AddonView
				if err := cl.Do("GET", appPath(name, "/addons/"+url.PathEscape(c.Args().First())), nil, &a); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, a)
				}
				var ats []api.AttachmentView
				if err := cl.Do("GET", "/addons/"+url.PathEscape(a.ID)+"/addon-attachments", nil, &ats); err != nil {
					return err
				}
				var names []string
				for _, at := range ats {
					names = append(names, at.App.Name+"::"+at.Name)
				}
				fields := [][2]string{
					{"Attachments", strings.Join(names, ", ")},
					{"Installed at", a.CreatedAt.UTC().Format(time.RFC1123)},
					{"Owning app", a.App.Name},
					{"Plan", a.Plan.Name},
					{"State", a.State},
				}
				for _, u := range a.Usage {
					fields = append(fields, [2]string{u.Name, u.Value})
				}
				fmt.Fprintf(env.Stdout, "=== %s\n", a.Name)
				for _, f := range fields {
					fmt.Fprintf(env.Stdout, "%-13s %s\n", f[0]+":", f[1])
				}
				return nil
			},
		},
		{
			Name:      "addons:destroy",
			Usage:     "detach an add-on and delete it with all its data",
			ArgsUsage: "ADDON",
			Flags: []cli.Flag{appFlag, &cli.StringFlag{Name: "confirm", Usage: "the app's name, to confirm"},
				&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "destroy it even if it is attached to other apps, which lose it"}},
			Action: func(c *cli.Context) error {
				addon := c.Args().First()
				if addon == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako addons:destroy -a APP ADDON --confirm APP (ADDON: its name or attachment, from `hako addons`)")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				if c.String("confirm") != name {
					return engine.Errorf(engine.EINVALID, "This deletes %s and all its data. To proceed, re-run this command with --confirm %s", addon, name)
				}
				if err := progress(env.Stdout, fmt.Sprintf("Destroying %s on ⬢ %s", addon, name), func() error {
					return cl.Do("DELETE", appPath(name, "/addons/"+url.PathEscape(addon)), map[string]bool{"force": c.Bool("force")}, nil)
				}); err != nil {
					return err
				}
				return nil
			},
		},
		{
			Name:      "addons:attach",
			Usage:     "attach an existing add-on (of this app or another you may use) to an app: its URL becomes the config var NAME_URL",
			ArgsUsage: "ADDON",
			Flags: []cli.Flag{appFlag, &cli.StringFlag{Name: "as", Usage: "the attachment name (SECOND gives SECOND_URL; default HEROKU_POSTGRESQL_COLOR)"},
				&cli.StringFlag{Name: "confirm", Usage: "the app's name, to replace an attachment of the same name"}},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako addons:attach ADDON -a APP [--as NAME] (ADDON: the add-on's name, from `hako addons`)")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				addon, as := c.Args().First(), c.String("as")
				what := "Attaching " + addon
				if as != "" {
					what += " as " + as
				}
				var at api.AttachmentView
				body := map[string]any{"addon": map[string]string{"name": addon}, "app": map[string]string{"name": name}, "confirm": c.String("confirm")}
				if as != "" {
					body["name"] = as
				}
				if err := progress(env.Stdout, what+" to ⬢ "+name, func() error { return cl.Do("POST", "/addon-attachments", body, &at) }); err != nil {
					return err
				}
				return printRestarted(env, cl, name, "Setting "+at.Name)
			},
		},
		{
			Name:      "addons:detach",
			Usage:     "detach an add-on attachment from an app: its config var goes, the add-on stays",
			ArgsUsage: "ATTACHMENT",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako addons:detach ATTACHMENT -a APP (ATTACHMENT: its name, such as SECOND, from `hako addons`)")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var at api.AttachmentView
				if err := cl.Do("GET", appPath(name, "/addon-attachments/"+url.PathEscape(c.Args().First())), nil, &at); err != nil {
					return err
				}
				if err := progress(env.Stdout, fmt.Sprintf("Detaching %s to %s from ⬢ %s", at.Name, at.Addon.Name, name), func() error {
					return cl.Do("DELETE", "/addon-attachments/"+url.PathEscape(at.ID), nil, nil)
				}); err != nil {
					return err
				}
				return printRestarted(env, cl, name, "Unsetting "+at.Name)
			},
		},
	}
}

// printRestarted prints "Setting SECOND config vars and restarting
// ⬢ app... done, v12" once the release is made, as the heroku CLI does.
func printRestarted(env *Env, cl *Client, app, what string) error {
	fmt.Fprintf(env.Stdout, "%s config vars and restarting ⬢ %s... ", what, app)
	var rel struct{ Version int }
	if err := cl.Do("GET", appPath(app, "/releases/current"), nil, &rel); err != nil {
		fmt.Fprintln(env.Stdout, "failed")
		return err
	}
	fmt.Fprintf(env.Stdout, "done, v%d\n", rel.Version)
	return nil
}
