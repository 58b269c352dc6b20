package cmd

import (
	"fmt"
	"os/exec"
	"strings"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

func gitRemoteCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "git:remote",
		Usage: "point a git remote of the current repository at the app, so `git push hako main` deploys",
		Flags: []cli.Flag{appFlag, &cli.StringFlag{Name: "remote", Aliases: []string{"r"}, Value: "hako", Usage: "the remote's name"}},
		Action: func(c *cli.Context) error {
			if env.Remote {
				return engine.Errorf(engine.EINVALID, "git:remote changes a local repository: run it with the hako CLI, not over SSH.")
			}
			name, cl, err := appClient(env, c)
			if err != nil {
				return err
			}
			var a api.AppView
			if err := cl.Do("GET", appPath(name, ""), nil, &a); err != nil {
				return err
			}
			remote := c.String("remote")
			verb := "add"
			if exec.Command("git", "remote", "get-url", remote).Run() == nil {
				verb = "set-url"
			}
			out, err := exec.Command("git", "remote", verb, remote, a.GitURL).CombinedOutput()
			if err != nil {
				return engine.Errorf(engine.EINVALID, "git remote %s failed (is this a git repository?): %s", verb, strings.TrimSpace(string(out)))
			}
			fmt.Fprintf(env.Stdout, "set git remote %s to %s\n", remote, a.GitURL)
			return nil
		},
	}
}
