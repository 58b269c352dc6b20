package engine

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// scriptTimeout bounds a deploy script (app.json's scripts), as Heroku
// bounds postdeploy.
const scriptTimeout = time.Hour

// runScript runs one of app.json's scripts in a one-off dyno named after
// it (postdeploy.1234) on the app's current release, its output on out
// and in the app's log, and returns its exit status.
func (e *Engine) runScript(ctx context.Context, app, kind, command, user string, out io.Writer) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, scriptTimeout)
	defer cancel()
	return e.Run(ctx, RunRequest{App: app, Command: command, User: user, Out: indent(out), Kind: kind})
}

// predeploy runs Dokku's scripts.dokku.predeploy of a staged deploy's
// slug on it, before its dynos start; its failure fails the deploy.
func (e *Engine) predeploy(ctx context.Context, app string, rel *Release, slug *Slug, out io.Writer) error {
	aj := slugAppJSON(slug)
	if aj == nil || aj.Scripts.DokkuPredeploy == "" {
		return nil
	}
	fmt.Fprintf(out, "-----> Running predeploy script...\n")
	code, err := e.releaseOneoff(ctx, app, rel, slug, "predeploy", aj.Scripts.DokkuPredeploy, out)
	if err != nil {
		return err
	}
	if code != 0 {
		fmt.Fprintf(out, " !     The predeploy script `%s` exited with status %d\n", aj.Scripts.DokkuPredeploy, code)
		return Errorf(EBUILD, "Release v%d failed: its predeploy script exited with status %d.", rel.Version, code)
	}
	return nil
}

// afterDeploy runs, once a deploy is live, scripts.postdeploy when it was
// the app's first and Dokku's scripts.dokku.postdeploy every time. Their
// failure is shown and logged; the release stays live, as Heroku keeps
// the app.
func (e *Engine) afterDeploy(app string, slug *Slug, first bool, user string, out io.Writer) {
	aj := slugAppJSON(slug)
	if aj == nil {
		return
	}
	run := func(kind, what, command string) {
		if command == "" {
			return
		}
		fmt.Fprintf(out, "-----> Running %s script...\n", what)
		code, err := e.runScript(context.Background(), app, kind, command, user, out)
		switch {
		case err != nil:
			e.log(app, "api", "The %s script `%s` failed: %s", what, command, ErrorMessage(err))
			fmt.Fprintf(out, " !     The %s script failed: %s; the release stays live.\n", what, ErrorMessage(err))
		case code != 0:
			e.log(app, "api", "The %s script `%s` exited with status %d", what, command, code)
			fmt.Fprintf(out, " !     The %s script `%s` exited with status %d; the release stays live.\n", what, command, code)
		}
	}
	if first {
		run("postdeploy", "postdeploy", aj.Scripts.Postdeploy)
	}
	run("postdeploy", "Dokku postdeploy", aj.Scripts.DokkuPostdeploy)
}

// releaseOneoff runs command in a one-off dyno (kind.1234) on rel, a
// release that may not be live yet, as the release phase runs.
func (e *Engine) releaseOneoff(ctx context.Context, app string, rel *Release, slug *Slug, kind, command string, out io.Writer) (int, error) {
	dir, done, err := e.unpack(app, slug.ID)
	if err != nil {
		return -1, err
	}
	defer done()
	uid, gid, err := e.identity(app)
	if err != nil {
		return -1, err
	}
	if err := e.waitAddons(ctx); err != nil {
		return -1, err
	}
	name := fmt.Sprintf("%s.%d", kind, 1000+rand.IntN(9000))
	spec := DynoSpec{App: app, Type: kind, Name: name, Release: rel.Version, Command: command, Dir: dir, Env: dynoEnv(app, rel, slug), UID: uid, GID: gid}
	code, err := e.Supervisor.RunOnce(ctx, spec, nil, indent(out))
	if err != nil {
		return code, fmt.Errorf("%s of %s v%d: %w", kind, app, rel.Version, err)
	}
	return code, nil
}
