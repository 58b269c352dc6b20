package engine

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// maxCheckBody bounds what a check reads of an answer, looking for its
// content.
const maxCheckBody = 1 << 20

// probe runs one attempt of check h on the dyno at addr: "" when it
// passes, else why not, in the words of the deploy's message ("GET /
// answered 500, expected content \"go\"").
func (e *Engine) probe(ctx context.Context, addr, host string, h Healthcheck) string {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	status, body, err := e.Probe(ctx, addr, host, h.Path, maxCheckBody)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Sprintf("GET %s did not answer within %v", h.Path, h.Timeout)
		}
		if status == 0 {
			return fmt.Sprintf("GET %s could not connect", h.Path)
		}
	}
	ok := status >= 200 && status < 300
	has := h.Content == "" || strings.Contains(string(body), h.Content)
	switch {
	case ok && has:
		return ""
	case h.Content != "" && !ok:
		return fmt.Sprintf("GET %s answered %d, expected content %q", h.Path, status, h.Content)
	case !ok:
		return fmt.Sprintf("GET %s answered %d, expected 2xx", h.Path, status)
	default:
		return fmt.Sprintf("GET %s answered %d without the expected content %q", h.Path, status, h.Content)
	}
}

// runCheck tries h on a dyno up to its attempts, Wait apart, after its
// initial delay: "" once one passes, else the last failure.
func (e *Engine) runCheck(ctx context.Context, addr, host string, h Healthcheck) string {
	if !sleepCtx(ctx, h.InitialDelay) {
		return "the deploy was cancelled"
	}
	why := ""
	for i := 0; i < h.Attempts; i++ {
		if i > 0 && !sleepCtx(ctx, h.Wait) {
			return "the deploy was cancelled"
		}
		if why = e.probe(ctx, addr, host, h); why == "" {
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
			if why := e.runCheck(ctx, addr, e.checkHost(app), h); why != "" {
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
