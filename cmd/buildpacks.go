package cmd

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

func buildpacksCommands(env *Env) []*cli.Command {
	index := &cli.IntFlag{Name: "index", Aliases: []string{"i"}, Usage: "the position, from 1"}
	return []*cli.Command{
		{
			Name:  "buildpacks",
			Usage: "list the app's buildpacks (none: detection picks one)",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, packs, _, err := getBuildpacks(env, c)
				if err != nil {
					return err
				}
				printBuildpacks(env, name, packs, "")
				return nil
			},
		},
		{
			Name: "buildpacks:set", Usage: "set the app's buildpack (-i replaces the one at that position)", ArgsUsage: "BUILDPACK",
			Flags: []cli.Flag{appFlag, index},
			Action: func(c *cli.Context) error {
				return changeBuildpacks(env, c, "set", func(packs []string, arg string, i int) ([]string, error) {
					if i == 0 {
						return []string{arg}, nil
					}
					if i > len(packs) {
						return nil, engine.Errorf(engine.EINVALID, "There is no buildpack at position %d: `hako buildpacks:add` adds one.", i)
					}
					packs[i-1] = arg
					return packs, nil
				})
			},
		},
		{
			Name: "buildpacks:add", Usage: "add a buildpack (last, or at -i)", ArgsUsage: "BUILDPACK",
			Flags: []cli.Flag{appFlag, index},
			Action: func(c *cli.Context) error {
				return changeBuildpacks(env, c, "added", func(packs []string, arg string, i int) ([]string, error) {
					if i == 0 || i > len(packs) {
						return append(packs, arg), nil
					}
					return slices.Insert(packs, i-1, arg), nil
				})
			},
		},
		{
			Name: "buildpacks:remove", Usage: "remove a buildpack, by name or -i", ArgsUsage: "[BUILDPACK]",
			Flags: []cli.Flag{appFlag, index},
			Action: func(c *cli.Context) error {
				return changeBuildpacks(env, c, "removed", func(packs []string, arg string, i int) ([]string, error) {
					if i == 0 {
						i = slices.Index(packs, arg) + 1
					}
					if i < 1 || i > len(packs) {
						return nil, engine.Errorf(engine.EINVALID, "That buildpack is not set on the app: `hako buildpacks` lists them.")
					}
					return slices.Delete(packs, i-1, i), nil
				})
			},
		},
		{
			Name: "buildpacks:clear", Usage: "remove all buildpacks: the next build detects one",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, _, cl, err := getBuildpacks(env, c)
				if err != nil {
					return err
				}
				if err := cl.Do("PUT", appPath(name, "/buildpack-installations"), map[string]any{"updates": []any{}}, nil); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Buildpacks cleared. Next release on ⬢ %s will detect buildpacks normally.\n", name)
				return nil
			},
		},
	}
}

// getBuildpacks returns the -a app, its buildpacks and the API client.
func getBuildpacks(env *Env, c *cli.Context) (string, []string, *Client, error) {
	name, cl, err := appClient(env, c)
	if err != nil {
		return "", nil, nil, err
	}
	var inst []api.BuildpackInstallation
	if err := cl.Do("GET", appPath(name, "/buildpack-installations"), nil, &inst); err != nil {
		return "", nil, nil, err
	}
	packs := make([]string, len(inst))
	for i, b := range inst {
		packs[i] = b.Buildpack.URL
	}
	return name, packs, cl, nil
}

// changeBuildpacks edits the list with change and stores it, printing
// what Heroku's CLI prints.
func changeBuildpacks(env *Env, c *cli.Context, verb string, change func(packs []string, arg string, index int) ([]string, error)) error {
	arg, i := c.Args().First(), c.Int("index")
	if arg == "" && (verb != "removed" || i == 0) {
		return engine.Errorf(engine.EINVALID, "Usage: hako buildpacks:%s -a APP BUILDPACK (go, nodejs, procfile, an installed pack's name or a git URL)", map[string]string{"set": "set", "added": "add", "removed": "remove"}[verb])
	}
	if i < 0 {
		return engine.Errorf(engine.EINVALID, "-i counts from 1.")
	}
	name, packs, cl, err := getBuildpacks(env, c)
	if err != nil {
		return err
	}
	if verb == "added" && slices.Contains(packs, arg) {
		return engine.Errorf(engine.EINVALID, "The buildpack %s is already set on your app.", arg)
	}
	packs, err = change(packs, arg, i)
	if err != nil {
		return err
	}
	updates := []map[string]string{}
	for _, p := range packs {
		updates = append(updates, map[string]string{"buildpack": p})
	}
	var inst []api.BuildpackInstallation
	if err := cl.Do("PUT", appPath(name, "/buildpack-installations"), map[string]any{"updates": updates}, &inst); err != nil {
		return err
	}
	if len(packs) == 0 {
		fmt.Fprintf(env.Stdout, "Buildpack %s. Next release on ⬢ %s will detect buildpacks normally.\n", verb, name)
		return nil
	}
	printBuildpacks(env, name, packs, fmt.Sprintf("Buildpack %s. Next release on ⬢ %s will use", verb, name))
	fmt.Fprintln(env.Stdout, "Run git push to create a new release using these buildpacks.")
	return nil
}

func printBuildpacks(env *Env, name string, packs []string, lead string) {
	switch {
	case len(packs) == 0:
		fmt.Fprintf(env.Stdout, "⬢ %s has no Buildpack URL set: builds detect one.\n", name)
	case lead != "" && len(packs) == 1:
		fmt.Fprintf(env.Stdout, "%s %s.\n", lead, packs[0])
	case lead != "":
		fmt.Fprintf(env.Stdout, "%s:\n", lead)
		for i, p := range packs {
			fmt.Fprintf(env.Stdout, "  %d. %s\n", i+1, p)
		}
	case len(packs) == 1:
		fmt.Fprintf(env.Stdout, "=== ⬢ %s Buildpack URL\n%s\n", name, packs[0])
	default:
		fmt.Fprintf(env.Stdout, "=== ⬢ %s Buildpack URLs\n", name)
		for i, p := range packs {
			fmt.Fprintln(env.Stdout, strconv.Itoa(i+1)+". "+p)
		}
	}
}
