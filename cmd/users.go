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

// usersCommands manage the server's accounts (administrators only) and
// the caller's own API tokens.
func usersCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "users",
			Usage: "list the server's users (administrators only)",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var users []engine.User
				if err := cl.Do("GET", "/users", nil, &users); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, users)
				}
				width := 0
				for _, u := range users {
					width = max(width, len(u.Email))
				}
				fmt.Fprintln(env.Stdout, "=== Users")
				for _, u := range users {
					fmt.Fprintf(env.Stdout, "%-*s  %s\n", width, u.Email, role(u))
				}
				return nil
			},
		},
		{
			Name:      "users:add",
			Usage:     "add a user (administrators only); --key registers their SSH public key (over SSH: --key - and the key on standard input)",
			ArgsUsage: "EMAIL",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "admin", Usage: "make the user an administrator"},
				&cli.StringFlag{Name: "key", Usage: "a .pub file to register to the user (- reads standard input)"},
			},
			Action: func(c *cli.Context) error {
				email := c.Args().First()
				if email == "" || c.Args().Len() > 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako users:add EMAIL [--admin] [--key FILE]")
				}
				body := map[string]any{"email": email, "admin": c.Bool("admin")}
				if path := c.String("key"); path != "" {
					text, _, err := readKey(env, path)
					if err != nil {
						return err
					}
					body["public_key"] = text
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var u struct {
					engine.User
					Token string `json:"token"`
				}
				if err := progress(env.Stdout, "Adding "+email, func() error { return cl.Do("POST", "/users", body, &u) }); err != nil {
					return err
				}
				printFields(env.Stdout, [][2]string{{"Role", role(u.User)}, {"Token", u.Token + " (shown this once: HAKO_API_TOKEN for their CLI)"}})
				return nil
			},
		},
		{
			Name:      "users:remove",
			Usage:     "remove a user with their keys and tokens (administrators only; destroy their apps first)",
			ArgsUsage: "EMAIL",
			Action: func(c *cli.Context) error {
				email := c.Args().First()
				if email == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako users:remove EMAIL")
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				return progress(env.Stdout, "Removing "+email, func() error { return cl.Do("DELETE", "/users/"+url.PathEscape(email), nil, nil) })
			},
		},
		{
			Name:  "auth:whoami",
			Usage: "the user this client acts as",
			Action: func(c *cli.Context) error {
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var acct struct{ Email string }
				if err := cl.Do("GET", "/account", nil, &acct); err != nil {
					return err
				}
				fmt.Fprintln(env.Stdout, acct.Email)
				return nil
			},
		},
		{
			Name:  "auth:token",
			Usage: "print the API token this client uses (HAKO_API_TOKEN, or the administrator's from HAKO_HOME)",
			Action: func(c *cli.Context) error {
				if env.Remote {
					return engine.Errorf(engine.EINVALID, "Over SSH there is no token to show: make one with `auth:tokens:create`.")
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				fmt.Fprintln(env.Stdout, cl.Token)
				return nil
			},
		},
		{
			Name:  "auth:tokens",
			Usage: "list your API tokens (not their secrets)",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var ts []api.TokenView
				if err := cl.Do("GET", "/oauth/authorizations", nil, &ts); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, ts)
				}
				if len(ts) == 0 {
					fmt.Fprintln(env.Stdout, "No tokens: make one with `hako auth:tokens:create`.")
				}
				for _, t := range ts {
					fmt.Fprintf(env.Stdout, "%s  %s  %s\n", t.ID, t.CreatedAt.Format(time.RFC3339), t.Description)
				}
				return nil
			},
		},
		{
			Name:  "auth:tokens:create",
			Usage: "make a new API token for yourself; its secret is shown this once",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "description", Aliases: []string{"d"}, Usage: "what the token is for"},
				&cli.BoolFlag{Name: "short", Aliases: []string{"s"}, Usage: "print only the token"},
			},
			Action: func(c *cli.Context) error {
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var t api.TokenView
				if err := cl.Do("POST", "/oauth/authorizations", map[string]string{"description": c.String("description")}, &t); err != nil {
					return err
				}
				if t.AccessToken == nil {
					return engine.Errorf(engine.EINTERNAL, "The server made a token but did not say its secret.")
				}
				if c.Bool("short") {
					fmt.Fprintln(env.Stdout, t.AccessToken.Token)
					return nil
				}
				printFields(env.Stdout, [][2]string{{"ID", t.ID}, {"Description", t.Description}, {"User", t.User.Email}, {"Token", t.AccessToken.Token}})
				return nil
			},
		},
		{
			Name:      "auth:tokens:revoke",
			Usage:     "revoke one of your API tokens by its ID",
			ArgsUsage: "ID",
			Action: func(c *cli.Context) error {
				id := c.Args().First()
				if id == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako auth:tokens:revoke ID (from `hako auth:tokens`)")
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				return progress(env.Stdout, "Revoking token "+id, func() error { return cl.Do("DELETE", "/oauth/authorizations/"+url.PathEscape(id), nil, nil) })
			},
		},
	}
}

func role(u engine.User) string {
	switch {
	case u.Admin:
		return "administrator"
	case u.Student:
		return "student"
	}
	return "member"
}

// accessCommands share an app with other users, as `heroku access` does.
func accessCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "access",
			Usage: "list who may act on the app: its owner and collaborators",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var cs []api.CollaboratorView
				if err := cl.Do("GET", appPath(name, "/collaborators"), nil, &cs); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, cs)
				}
				width := 0
				for _, co := range cs {
					width = max(width, len(co.User.Email))
				}
				fmt.Fprintf(env.Stdout, "=== %s Access List\n", name)
				for _, co := range cs {
					fmt.Fprintf(env.Stdout, "%-*s  %s\n", width, co.User.Email, co.Role)
				}
				return nil
			},
		},
		{
			Name:      "access:add",
			Usage:     "share the app with a user (its owner or an administrator)",
			ArgsUsage: "EMAIL",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				email := c.Args().First()
				if email == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako access:add EMAIL -a APP")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				return progress(env.Stdout, fmt.Sprintf("Adding %s access to the app %s", email, name), func() error {
					return cl.Do("POST", appPath(name, "/collaborators"), map[string]string{"user": email}, nil)
				})
			},
		},
		{
			Name:      "access:remove",
			Usage:     "stop sharing the app with a user (its owner or an administrator)",
			ArgsUsage: "EMAIL",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				email := c.Args().First()
				if email == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako access:remove EMAIL -a APP")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				return progress(env.Stdout, fmt.Sprintf("Removing %s access from the app %s", email, name), func() error {
					return cl.Do("DELETE", appPath(name, "/collaborators/"+url.PathEscape(email)), nil, nil)
				})
			},
		},
	}
}

// workshopCommands set a class up and clear it (administrators only).
func workshopCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "workshop:seed",
			Usage: "make students student1…N, each with an app of their name and a new token, and print their sheets",
			Flags: []cli.Flag{&cli.IntFlag{Name: "users", Usage: "how many students", Required: true}, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var seats []struct {
					engine.Student
					WebURL string `json:"web_url"`
					GitURL string `json:"git_url"`
					APIURL string `json:"api_url"`
				}
				if err := cl.Do("POST", "/workshop/seed", map[string]int{"users": c.Int("users")}, &seats); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, seats)
				}
				// The seats skipped first, one line each, then the sheets.
				printed := false
				for _, st := range seats {
					if st.Skipped != "" {
						fmt.Fprintf(env.Stdout, "Skipped %s: %s\n", st.Email, st.Skipped)
						printed = true
					}
				}
				for _, st := range seats {
					if st.Skipped != "" {
						continue
					}
					if st.APIURL == "" {
						st.APIURL = cl.URL
					}
					if printed {
						fmt.Fprintln(env.Stdout)
					}
					printed = true
					fmt.Fprintf(env.Stdout, "=== %s\n", st.Email)
					printFields(env.Stdout, [][2]string{
						{"Token", st.Token}, {"Push URL", st.GitURL}, {"App URL", st.WebURL},
						{"Set-up", fmt.Sprintf("export HAKO_API_URL=%s HAKO_API_TOKEN=%s; hako keys:add; git remote add hako %s", st.APIURL, st.Token, st.GitURL)},
					})
				}
				return nil
			},
		},
		{
			Name:  "workshop:reset",
			Usage: "destroy every app the students own (they and their tokens stay)",
			Flags: []cli.Flag{&cli.StringFlag{Name: "confirm", Usage: "the word workshop, to confirm"}},
			Action: func(c *cli.Context) error {
				if c.String("confirm") != "workshop" {
					return engine.Errorf(engine.EINVALID, "This destroys every student's apps and their data. To proceed, re-run this command with --confirm workshop")
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var out struct{ Destroyed []string }
				if err := cl.Do("POST", "/workshop/reset", nil, &out); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Destroyed %d apps: %s\n", len(out.Destroyed), strings.Join(out.Destroyed, ", "))
				return nil
			},
		},
	}
}
