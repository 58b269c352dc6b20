package cmd

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
)

// pgBackupsCommands are Heroku's pg:backups verbs and pg:pull/pg:push,
// done on the server with pg_dump and pg_restore.
func pgBackupsCommands(env *Env) []*cli.Command {
	confirm := &cli.StringFlag{Name: "confirm", Usage: "the app's name, to say you mean it"}
	return []*cli.Command{
		{
			Name: "pg:backups", Usage: "list the backups of the app's databases",
			Flags: []cli.Flag{appFlag, &cli.BoolFlag{Name: "json", Usage: "print JSON"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var list []api.PGBackupView
				if err := cl.Do("GET", appPath(name, "/pg-backups"), nil, &list); err != nil {
					return err
				}
				if c.Bool("json") {
					return printJSON(env.Stdout, list)
				}
				var transfers []api.PGTransferView
				if err := cl.Do("GET", appPath(name, "/pg-transfers"), nil, &transfers); err != nil {
					return err
				}
				if len(list) == 0 {
					fmt.Fprintf(env.Stdout, "No backups of ⬢ %s: `hako pg:backups:capture -a %s` takes one.\n", name, name)
				} else {
					fmt.Fprintf(env.Stdout, "=== ⬢ %s Backups\n", name)
					tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tTaken\tSize\tDatabase")
					for i := len(list) - 1; i >= 0; i-- {
						b := list[i]
						size := byteSize(b.Size)
						if b.Running {
							size += " so far, running"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.ID, b.CreatedAt.UTC().Format(time.RFC3339), size, b.Addon)
					}
					if err := tw.Flush(); err != nil {
						return err
					}
				}
				if len(transfers) == 0 {
					return nil
				}
				fmt.Fprintf(env.Stdout, "\n=== ⬢ %s Restores, copies and failed backups\n", name)
				tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tStarted\tStatus\tFrom\tTo\tDatabase")
				for i := len(transfers) - 1; i >= 0; i-- {
					t := transfers[i]
					status := t.Status
					if t.FinishedAt != nil {
						status += " " + t.FinishedAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.CreatedAt.UTC().Format(time.RFC3339), status, t.From, t.To, t.Addon)
				}
				return tw.Flush()
			},
		},
		{
			Name: "pg:backups:capture", Usage: "take a backup (pg_dump -Fc) of the app's database", ArgsUsage: "[DATABASE]",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Backing up %s of ⬢ %s... ", dbName(c), name)
				var b api.PGBackupView
				if err := cl.Do("POST", appPath(name, "/pg-backups"), map[string]string{"attachment": c.Args().First()}, &b); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				fmt.Fprintf(env.Stdout, "done, %s (%s)\n", b.ID, byteSize(b.Size))
				if len(b.Dropped) > 0 {
					fmt.Fprintf(env.Stdout, "Removed %s to keep within the limits (10 backups, 4 GiB).\n", strings.Join(b.Dropped, ", "))
				}
				return nil
			},
		},
		{
			Name: "pg:backups:download", Usage: "download a backup (default: the latest) as a pg_dump file", ArgsUsage: "[BACKUP]",
			Flags: []cli.Flag{appFlag, &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "latest.dump", Usage: "the file to write"}},
			Action: func(c *cli.Context) error {
				if env.Remote {
					return engine.Errorf(engine.EINVALID, "pg:backups:download writes a file on your machine: use the hako CLI.")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				id := c.Args().First()
				if id == "" {
					id = "latest"
				}
				return download(cl, appPath(name, "/pg-backups/"+url.PathEscape(id)+"/download"), c.String("output"), env.Stdout)
			},
		},
		{
			Name: "pg:backups:restore", Usage: "replace the app's database with a backup (b001, OTHERAPP::b001; default: the latest)", ArgsUsage: "[BACKUP] [DATABASE]",
			Flags: []cli.Flag{appFlag, confirm},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				body := map[string]string{"backup": c.Args().Get(0), "attachment": c.Args().Get(1), "confirm": c.String("confirm")}
				if body["confirm"] != name {
					return engine.Errorf(engine.EINVALID, "This replaces the data of %s's database. To proceed, re-run this command with --confirm %s", name, name)
				}
				fmt.Fprintf(env.Stdout, "Restoring into %s of ⬢ %s... ", dbName(c.Args().Get(1)), name)
				var b api.PGBackupView
				if err := cl.Do("POST", appPath(name, "/pg-backups/actions/restore"), body, &b); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				fmt.Fprintf(env.Stdout, "done, from %s::%s\n", b.App, b.ID)
				return nil
			},
		},
		{
			Name: "pg:backups:cancel", Usage: "stop a backup being taken, or a restore or copy running (default: the newest)", ArgsUsage: "[BACKUP]",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var b api.PGBackupView
				if err := cl.Do("POST", appPath(name, "/pg-backups/actions/cancel"), map[string]string{"backup": c.Args().First()}, &b); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Canceled %s of ⬢ %s.\n", b.ID, name)
				return nil
			},
		},
		{
			Name: "pg:backups:schedule", Usage: "back the database up every day at an hour", ArgsUsage: "[DATABASE]",
			Flags: []cli.Flag{appFlag, &cli.StringFlag{Name: "at", Required: true, Usage: "the hour and time zone, as '02:00 Europe/Paris' (default zone: UTC)"}},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var v api.ScheduleView
				if err := cl.Do("POST", appPath(name, "/pg-schedules"), map[string]string{"database": c.Args().First(), "at": c.String("at")}, &v); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Scheduled daily backups of %s on ⬢ %s at %02d:00 %s.\n", dbName(c), name, v.Hour, v.Timezone)
				return nil
			},
		},
		{
			Name: "pg:backups:schedules", Usage: "list the daily backups of the app's databases",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				var list []api.ScheduleView
				if err := cl.Do("GET", appPath(name, "/pg-schedules"), nil, &list); err != nil {
					return err
				}
				if len(list) == 0 {
					fmt.Fprintf(env.Stdout, "No backup schedules on ⬢ %s: `hako pg:backups:schedule -a %s --at '02:00 UTC'` sets one.\n", name, name)
					return nil
				}
				fmt.Fprintln(env.Stdout, "=== Backup Schedules")
				for _, v := range list {
					fmt.Fprintf(env.Stdout, "%s: daily at %d:00 %s (%s)\n", v.Name, v.Hour, v.Timezone, v.Addon)
				}
				return nil
			},
		},
		{
			Name: "pg:backups:unschedule", Usage: "stop the daily backups of the database", ArgsUsage: "[DATABASE]",
			Flags: []cli.Flag{appFlag},
			Action: func(c *cli.Context) error {
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				if err := cl.Do("DELETE", appPath(name, "/pg-schedules/"+url.PathEscape(dbName(c))), nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Stopped the daily backups of %s on ⬢ %s.\n", dbName(c), name)
				return nil
			},
		},
		{
			Name: "pg:pull", Usage: "replace the app's database with a copy of the one at SOURCE_URL (reached with its own credentials)", ArgsUsage: "SOURCE_URL",
			Flags: []cli.Flag{appFlag, confirm, &cli.StringFlag{Name: "database", Usage: "the app's database to replace (default: DATABASE)"}},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako pg:pull SOURCE_URL -a APP --confirm APP")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				if c.String("confirm") != name {
					return engine.Errorf(engine.EINVALID, "This replaces the data of %s's database. To proceed, re-run this command with --confirm %s", name, name)
				}
				fmt.Fprintf(env.Stdout, "Pulling into %s of ⬢ %s... ", dbName(c.String("database")), name)
				body := map[string]string{"url": c.Args().First(), "attachment": c.String("database"), "confirm": c.String("confirm")}
				if err := cl.Do("POST", appPath(name, "/pg-actions/pull"), body, nil); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				fmt.Fprintln(env.Stdout, "done")
				return nil
			},
		},
		{
			Name: "pg:push", Usage: "copy the app's database into the empty one at TARGET_URL (reached with its own credentials)", ArgsUsage: "TARGET_URL",
			Flags: []cli.Flag{appFlag, &cli.StringFlag{Name: "database", Usage: "the app's database to copy (default: DATABASE)"}},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako pg:push -a APP TARGET_URL")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Pushing %s of ⬢ %s... ", dbName(c.String("database")), name)
				body := map[string]string{"url": c.Args().First(), "attachment": c.String("database")}
				if err := cl.Do("POST", appPath(name, "/pg-actions/push"), body, nil); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				fmt.Fprintln(env.Stdout, "done")
				return nil
			},
		},
	}
}

// dbName is the database an argument names, DATABASE by default.
func dbName(v any) string {
	s := ""
	switch x := v.(type) {
	case string:
		s = x
	case *cli.Context:
		s = x.Args().First()
	}
	if s == "" {
		return "DATABASE"
	}
	return s
}

// byteSize shows a size the way Heroku's pg:backups does.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// download writes what path answers to file, through a temporary file
// renamed into place, so that a failed download leaves no half file.
func download(cl *Client, path, file string, out io.Writer) error {
	req, err := http.NewRequest("GET", strings.TrimRight(cl.URL, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+cl.Token)
	resp, err := cl.HTTP.Do(req)
	if err != nil {
		return engine.Errorf(engine.EINTERNAL, "Cannot reach the hako server at %s: is `hako server` running? (%v)", cl.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readAPIError(resp)
	}
	tmp := file + ".part"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("download to %s: %w", file, err)
	}
	fmt.Fprintf(out, "Downloaded %s to %s\n", byteSize(n), file)
	return nil
}
