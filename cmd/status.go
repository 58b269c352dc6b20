package cmd

import (
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"hako/engine"
)

func statusCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "the server: version, uptime, isolation, apps, dynos by state, disk use, add-on servers",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			cl, err := env.Client()
			if err != nil {
				return err
			}
			var st engine.Status
			if err := cl.Do("GET", "/status", nil, &st); err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(env.Stdout, st)
			}
			printStatus(env.Stdout, &st)
			return nil
		},
	}
}

// printStatus prints the status as the Heroku CLI prints its records and
// tables.
func printStatus(w io.Writer, st *engine.Status) {
	fmt.Fprintln(w, "=== hako server")
	printFields(w, [][2]string{
		{"Version", st.Version},
		{"Uptime", fmt.Sprintf("%s (since %s)", formatUptime(time.Duration(st.UptimeSeconds)*time.Second), st.StartedAt.UTC().Format(time.RFC3339))},
		{"Isolation", st.Isolation},
		{"Apps", fmt.Sprint(st.AppsCount)},
		{"Dynos", dynosByState(st.Dynos)},
		{"Disk", fmt.Sprintf("%s in %s", formatBytes(st.HomeBytes), st.Home)},
	})
	fmt.Fprintln(w)
	fmt.Fprintln(w, "=== Disk use by app")
	rows := [][]string{{"App", "Repo", "Slugs", "Unpacked", "Build cache", "Build output", "Total"}}
	for _, a := range st.Apps {
		rows = append(rows, []string{a.Name, formatBytes(a.Repo), formatBytes(a.Slugs), formatBytes(a.Unpacked), formatBytes(a.Cache), formatBytes(a.Builds), formatBytes(a.Total)})
	}
	printTable(w, rows)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "=== Add-on servers")
	if len(st.Addons) == 0 {
		fmt.Fprintln(w, "No add-on servers.")
		return
	}
	rows = [][]string{{"Type", "Add-on", "State", "Data"}}
	for _, ad := range st.Addons {
		name := ad.Name
		if name == "" {
			name = "(all)"
		}
		rows = append(rows, []string{ad.Service, name, ad.State, formatBytes(ad.DataBytes)})
	}
	printTable(w, rows)
}

// printTable prints rows under the first one, the header, with a rule
// beneath it, columns aligned, as the Heroku CLI's tables look.
func printTable(w io.Writer, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, cell := range cells {
			b.WriteString(" ")
			b.WriteString(cell)
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(rows[0])
	rule := make([]string, len(widths))
	for i, n := range widths {
		rule[i] = strings.Repeat("─", n)
	}
	line(rule)
	for _, r := range rows[1:] {
		line(r)
	}
}

// dynosByState says "2 up, 1 crashed": Heroku's states in lifecycle
// order, then any other.
func dynosByState(n map[string]int) string {
	order := []string{engine.DynoUp, engine.DynoStarting, engine.DynoCrashed, engine.DynoDown}
	var rest []string
	for s := range n {
		if !slices.Contains(order, s) {
			rest = append(rest, s)
		}
	}
	sort.Strings(rest)
	var parts []string
	for _, s := range append(order, rest...) {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// formatBytes shows a size with one decimal in binary units: 0 B, 812 B,
// 4.0 KB, 50.3 MB, 1.2 GB.
func formatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, "KB"
	for _, u := range []string{"MB", "GB", "TB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// formatUptime shows a duration as "3d 4h", "2h 5m", "4m 10s" or "12s".
func formatUptime(d time.Duration) string {
	s := int64(d / time.Second)
	days, hours, mins, secs := s/86400, s%86400/3600, s%3600/60, s%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case mins > 0:
		return fmt.Sprintf("%dm %ds", mins, secs)
	}
	return fmt.Sprintf("%ds", secs)
}

// Version is the release of this build, set at link time
// (go build -ldflags "-X hako/cmd.Version=1.2.0"); empty for a
// development build.
var Version string

// serverVersion names the build: Version when set, the module version
// when it has one, else "dev" and the commit it was built from (with
// "-dirty" for a tree with changes) when the Go toolchain recorded it.
func serverVersion() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev == "" {
		return "dev"
	}
	return "dev-" + rev + dirty
}
