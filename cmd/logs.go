package cmd

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"hako/engine"
)

func logsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "logs",
		Usage: "show an app's recent log lines (dyno output, platform events, router)",
		Flags: []cli.Flag{
			appFlag,
			&cli.IntFlag{Name: "num", Aliases: []string{"n"}, Value: 100, Usage: "how many lines (at most 1500)"},
			&cli.BoolFlag{Name: "tail", Aliases: []string{"t"}, Usage: "keep printing new lines"},
			&cli.StringFlag{Name: "dyno", Aliases: []string{"d"}, Usage: "only this dyno (web.1)"},
			&cli.StringFlag{Name: "ps", Aliases: []string{"p"}, Usage: "only this process type (web)"},
			&cli.StringFlag{Name: "source", Aliases: []string{"s"}, Usage: "only app or heroku lines"},
		},
		Action: func(c *cli.Context) error {
			name, cl, err := appClient(env, c)
			if err != nil {
				return err
			}
			q := url.Values{}
			q.Set("num", strconv.Itoa(c.Int("num")))
			if c.Bool("tail") {
				q.Set("tail", "true")
			}
			for _, f := range []string{"dyno", "ps", "source"} {
				if v := c.String(f); v != "" {
					q.Set(f, v)
				}
			}
			return cl.Stream(appPath(name, "/log-lines?"+q.Encode()), env.Stdout)
		},
	}
}

// Stream copies a streaming text answer (a log tail) to w as it comes.
func (c *Client) Stream(path string, w io.Writer) error {
	req, err := http.NewRequest("GET", strings.TrimRight(c.URL, "/")+path, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return engine.Errorf(engine.EINTERNAL, "Cannot reach the hako server at %s: is `hako server` running? (%v)", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readAPIError(resp)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
