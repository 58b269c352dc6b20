package cmd

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"hako/engine"
)

func appPath(name, rest string) string { return "/apps/" + url.PathEscape(name) + rest }

func configCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "config",
			Usage: "show an app's config vars",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}, &cli.BoolFlag{Name: "shell", Aliases: []string{"s"}, Usage: "print KEY='value' lines for a shell"}},
			Action: func(c *cli.Context) error {
				name, cfg, err := fetchConfig(env, c)
				if err != nil {
					return err
				}
				switch {
				case c.Bool("json"):
					return printJSON(env.Stdout, cfg)
				case c.Bool("shell"):
					for _, k := range sortedKeys(cfg) {
						fmt.Fprintf(env.Stdout, "%s=%s\n", k, ShellQuote(cfg[k]))
					}
				default:
					fmt.Fprintf(env.Stdout, "=== ⬢ %s Config Vars\n", name)
					var fields [][2]string
					for _, k := range sortedKeys(cfg) {
						fields = append(fields, [2]string{k, cfg[k]})
					}
					printFields(env.Stdout, fields)
				}
				return nil
			},
		},
		{
			Name:      "config:get",
			Usage:     "print one config var's value",
			ArgsUsage: "KEY",
			Flags:     []cli.Flag{appFlag, &cli.BoolFlag{Name: "shell", Aliases: []string{"s"}, Usage: "print KEY='value'"}},
			Action: func(c *cli.Context) error {
				key := c.Args().First()
				if key == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako config:get -a APP KEY")
				}
				_, cfg, err := fetchConfig(env, c)
				if err != nil {
					return err
				}
				v, ok := cfg[key]
				if !ok {
					// As Heroku's CLI: an unset key prints an empty line.
					fmt.Fprintln(env.Stdout)
					return nil
				}
				if c.Bool("shell") {
					fmt.Fprintf(env.Stdout, "%s=%s\n", key, ShellQuote(v))
					return nil
				}
				fmt.Fprintln(env.Stdout, v)
				return nil
			},
		},
		{
			Name:      "config:set",
			Usage:     "set config vars (one release) and restart the app",
			ArgsUsage: "KEY=VALUE ...",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				changes := map[string]*string{}
				for _, a := range c.Args().Slice() {
					k, v, ok := strings.Cut(a, "=")
					if !ok || k == "" {
						return engine.Errorf(engine.EINVALID, "%q is not KEY=VALUE. Usage: hako config:set -a APP KEY=VALUE ...", a)
					}
					// Sent as JSON, invalid UTF-8 would silently become U+FFFD.
					if !utf8.ValidString(v) {
						return engine.Errorf(engine.EINVALID, "The value of %s is not valid UTF-8: config values must be UTF-8 text.", k)
					}
					changes[k] = &v
				}
				if len(changes) == 0 {
					return engine.Errorf(engine.EINVALID, "Usage: hako config:set -a APP KEY=VALUE ...")
				}
				return updateConfig(env, c, changes, "Setting")
			},
		},
		{
			Name:      "config:unset",
			Aliases:   []string{"config:remove"},
			Usage:     "remove config vars (one release) and restart the app",
			ArgsUsage: "KEY ...",
			Flags:     []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				changes := map[string]*string{}
				for _, k := range c.Args().Slice() {
					changes[k] = nil
				}
				if len(changes) == 0 {
					return engine.Errorf(engine.EINVALID, "Usage: hako config:unset -a APP KEY ...")
				}
				return updateConfig(env, c, changes, "Unsetting")
			},
		},
	}
}

// updateConfig sends one PATCH and prints Heroku's
// "Setting FOO and restarting ⬢ app... done, v12".
func updateConfig(env *Env, c *cli.Context, changes map[string]*string, verb string) error {
	name, cl, err := appClient(env, c)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(env.Stdout, "%s %s and restarting ⬢ %s... ", verb, joinAnd(keys), name)
	var cfg map[string]string
	if err := cl.Do("PATCH", appPath(name, "/config-vars"), changes, &cfg); err != nil {
		fmt.Fprintln(env.Stdout, "failed")
		return err
	}
	var rel struct{ Version int }
	if err := cl.Do("GET", appPath(name, "/releases/current"), nil, &rel); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "done, v%d\n", rel.Version)
	if verb == "Setting" {
		var fields [][2]string
		for _, k := range keys {
			fields = append(fields, [2]string{k, cfg[k]})
		}
		printFields(env.Stdout, fields)
	}
	return nil
}

// fetchConfig returns the -a app's name and config vars.
func fetchConfig(env *Env, c *cli.Context) (string, map[string]string, error) {
	name, cl, err := appClient(env, c)
	if err != nil {
		return "", nil, err
	}
	var cfg map[string]string
	err = cl.Do("GET", appPath(name, "/config-vars"), nil, &cfg)
	return name, cfg, err
}

// appClient returns the -a app and the API client.
func appClient(env *Env, c *cli.Context) (string, *Client, error) {
	name, err := appName(c)
	if err != nil {
		return "", nil, err
	}
	cl, err := env.Client()
	return name, cl, err
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// joinAnd writes "A", "A and B", "A, B and C".
func joinAnd(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// ShellQuote quotes s for a POSIX shell so that `eval` or `export` gives
// back exactly s, whatever it holds (quotes, newlines, $).
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
