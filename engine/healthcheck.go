package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// checkClient makes the health checks' requests: straight to a dyno's
// port, never through a proxy, never following a redirect (a check
// answered 3xx fails, as Dokku's does).
var checkClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// maxCheckBody bounds what a check reads of an answer, looking for its
// content.
const maxCheckBody = 1 << 20

// probe runs one attempt of check h on the dyno at addr: "" when it
// passes, else why not, in the words of the deploy's message ("GET /
// answered 500, expected content \"go\"").
func probe(ctx context.Context, addr, host string, h Healthcheck) string {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+h.Path, nil)
	if err != nil {
		return fmt.Sprintf("GET %s is not a valid request", h.Path)
	}
	req.Host = host
	req.Header.Set("User-Agent", "hako-healthcheck")
	resp, err := checkClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Sprintf("GET %s did not answer within %v", h.Path, h.Timeout)
		}
		return fmt.Sprintf("GET %s could not connect", h.Path)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCheckBody))
	if err != nil && ctx.Err() != nil {
		return fmt.Sprintf("GET %s did not answer within %v", h.Path, h.Timeout)
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	has := h.Content == "" || strings.Contains(string(body), h.Content)
	switch {
	case ok && has:
		return ""
	case h.Content != "" && !ok:
		return fmt.Sprintf("GET %s answered %d, expected content %q", h.Path, resp.StatusCode, h.Content)
	case !ok:
		return fmt.Sprintf("GET %s answered %d, expected 2xx", h.Path, resp.StatusCode)
	default:
		return fmt.Sprintf("GET %s answered %d without the expected content %q", h.Path, resp.StatusCode, h.Content)
	}
}

// runCheck tries h on a dyno up to its attempts, Wait apart, after its
// initial delay: "" once one passes, else the last failure.
func runCheck(ctx context.Context, addr, host string, h Healthcheck) string {
	if !sleepCtx(ctx, h.InitialDelay) {
		return "the deploy was cancelled"
	}
	why := ""
	for i := 0; i < h.Attempts; i++ {
		if i > 0 && !sleepCtx(ctx, h.Wait) {
			return "the deploy was cancelled"
		}
		if why = probe(ctx, addr, host, h); why == "" {
			return ""
		}
	}
	return why
}

// sleepCtx sleeps d unless ctx ends first, reporting whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// checkHost is the Host header a check sends: the app's own, as the
// router would.
func (e *Engine) checkHost(app string) string {
	if e.Domain != "" {
		return app + "." + e.Domain
	}
	return app + ".localhost"
}

// startupChecks runs app.json's startup checks on the new dynos that
// have a port, before the router may switch to them. The first that
// fails is shown on out and returned as an EBUILD error naming it.
func (e *Engine) startupChecks(ctx context.Context, app string, aj *AppJSON, started []*instance, out io.Writer) error {
	var ran bool
	for _, in := range started {
		checks := aj.Checks(in.spec.Type, CheckStartup)
		addr := in.Addr()
		if len(checks) == 0 || addr == "" {
			continue
		}
		if !ran {
			fmt.Fprintf(out, "-----> Running health checks\n")
			ran = true
		}
		for _, h := range checks {
			if why := runCheck(ctx, addr, e.checkHost(app), h); why != "" {
				msg := fmt.Sprintf("Health check %s failed: %s", h.Name, why)
				fmt.Fprintf(out, " !     %s\n", msg)
				e.Logs.Log(app, "heroku", in.spec.Name, msg)
				return Errorf(EBUILD, "%s (%s)", msg, in.spec.Name)
			}
			fmt.Fprintf(out, "       %s: %s GET %s passed\n", in.spec.Name, h.Name, h.Path)
		}
	}
	return nil
}
