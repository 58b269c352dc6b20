package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
)

// releasePhase runs the slug's `release:` command in a one-off dyno
// before rel goes live, streaming its output to out. A non-zero exit is an
// EBUILD error: the release is marked failed and the current one keeps
// serving.
func (e *Engine) releasePhase(ctx context.Context, app string, rel *Release, slug *Slug, command string, out io.Writer) error {
	// Kept for the release's output_stream_url too.
	kept := e.startPhaseLog(app, rel)
	defer kept.finish()
	out = io.MultiWriter(out, kept)
	dir, done, err := e.unpack(app, slug.ID)
	if err != nil {
		return err
	}
	defer done()
	uid, gid, err := e.identity(app)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "-----> Running release command...\n")
	if err := e.waitAddons(ctx); err != nil {
		return err
	}
	name := fmt.Sprintf("release.%d", 1000+rand.IntN(9000))
	spec := DynoSpec{App: app, Type: ReleasePhaseType, Name: name, Release: rel.Version, Command: command, Dir: dir, Env: dynoEnv(app, rel, slug), UID: uid, GID: gid}
	code, err := e.Supervisor.RunOnce(ctx, spec, nil, indent(out))
	if err != nil || code != 0 && ctx.Err() != nil {
		if e.stopping.Load() {
			// The server's stop cut the phase: the output says so, as
			// after a kill (reconcile), and no second time at the start.
			current := 0
			if a, aerr := e.Store.App(app); aerr == nil {
				current = a.CurrentRelease
			}
			fmt.Fprintln(out, InterruptedPhaseLine(rel.Version, current))
			return Errorf(EBUILD, "Release v%d failed: the server stopped during its release phase.", rel.Version)
		}
		if err == nil {
			err = ctx.Err()
		}
		return fmt.Errorf("release phase of %s v%d: %w", app, rel.Version, err)
	}
	if code != 0 {
		fmt.Fprintf(out, " !     Release command declared: `%s` exited with status %d\n", command, code)
		fmt.Fprintf(out, " !     Release v%d failed: the current release keeps serving. Fix the release command and push again.\n", rel.Version)
		return Errorf(EBUILD, "Release v%d failed: its release command exited with status %d.", rel.Version, code)
	}
	return nil
}

// dynoEnv is the environment every dyno of a release gets besides what
// the supervisor adds: the config vars and Heroku's dyno metadata.
func dynoEnv(app string, rel *Release, slug *Slug) map[string]string {
	env := map[string]string{}
	for k, v := range rel.Config {
		env[k] = v
	}
	env["HEROKU_APP_NAME"] = app
	env["HEROKU_RELEASE_VERSION"] = "v" + strconv.Itoa(rel.Version)
	env["HEROKU_SLUG_COMMIT"] = slug.Commit
	return env
}

// indent prefixes each line written to w with 7 spaces, Heroku's detail
// indentation.
func indent(w io.Writer) io.Writer { return &indentWriter{w: w, bol: true} }

// indentWriter is safe for concurrent use: a dyno's stdout and stderr
// are copied by separate goroutines.
type indentWriter struct {
	mu  sync.Mutex
	w   io.Writer
	bol bool
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	var buf []byte
	for _, c := range p {
		if iw.bol {
			buf = append(buf, "       "...)
			iw.bol = false
		}
		buf = append(buf, c)
		if c == '\n' {
			iw.bol = true
		}
	}
	if _, err := iw.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
