package engine

import (
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Build statuses, as Heroku's.
const (
	BuildPending   = "pending"
	BuildSucceeded = "succeeded"
	BuildFailed    = "failed"
)

// KeptBuilds is how many builds the store keeps per app: adding one past
// it forgets the oldest finished ones, with their output.
const KeptBuilds = 100

// Build is the record of one build of an app (a push, `builds:create`, a
// build of the Platform API, a review app's), kept across restarts so that
// `GET /apps/APP/builds` and the build's output outlive the server that
// ran it. Its output lies beside it on disk (see buildlog.go).
type Build struct {
	ID string `json:"id"`
	// AppID is the app's id: the build stays the app's through a rename,
	// and a new app given a destroyed one's name finds none of its builds.
	AppID string `json:"app_id"`
	// App is the app's name when the build began.
	App string `json:"app"`
	// Secret is the capability in output_stream_url.
	Secret string `json:"secret"`
	// User is who asked for the build.
	User string `json:"user,omitempty"`
	// SourceURL, Version and Checksum are the build's source_blob: the
	// pushed commit is its Version.
	SourceURL string  `json:"source_url,omitempty"`
	Version   string  `json:"version,omitempty"`
	Checksum  *string `json:"checksum,omitempty"`
	// Buildpacks are the app's buildpacks when the build began (none:
	// detected).
	Buildpacks []string `json:"buildpacks,omitempty"`
	Status     string   `json:"status"`
	// ReleaseID and SlugID are set once the build's release went live.
	ReleaseID string    `json:"release_id,omitempty"`
	SlugID    string    `json:"slug_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// BuildStore keeps builds' records; the store implements it, one
// transaction per method.
type BuildStore interface {
	// AddBuild records a new build of the app named b.App, whose id must
	// be b.AppID. Past KeptBuilds of the app's, the oldest finished ones
	// are removed and returned, so that their output can go too.
	// Returns ENOTFOUND when the app is gone.
	AddBuild(b *Build) (dropped []*Build, err error)
	// UpdateBuild stores b's new state, if its record is still kept.
	// Returns ENOTFOUND otherwise.
	UpdateBuild(b *Build) error
	// Builds returns the builds of the app with id appID, oldest first.
	Builds(appID string) ([]*Build, error)
	// BuildBySecret returns the build whose output secret is secret.
	// Returns ENOTFOUND.
	BuildBySecret(secret string) (*Build, error)
	// PendingBuilds returns every app's builds still pending.
	PendingBuilds() ([]*Build, error)
}

// builds is the store's BuildStore.
func (e *Engine) builds() BuildStore {
	if bs, ok := e.Store.(BuildStore); ok {
		return bs
	}
	return noBuilds{}
}

// noBuilds is the BuildStore of a store that keeps none.
type noBuilds struct{}

func (noBuilds) AddBuild(*Build) ([]*Build, error) { return nil, nil }
func (noBuilds) UpdateBuild(*Build) error          { return nil }
func (noBuilds) Builds(string) ([]*Build, error)   { return nil, nil }
func (noBuilds) PendingBuilds() ([]*Build, error)  { return nil, nil }
func (noBuilds) BuildBySecret(string) (*Build, error) {
	return nil, Errorf(ENOTFOUND, "This build output URL is unknown.")
}

// buildSecret returns a random secret for a build's output URL.
func buildSecret() string {
	var b [24]byte
	if _, err := crand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// BuildSource is where a build's source came from, as its source_blob
// tells: a pushed commit is a Version with no URL.
type BuildSource struct {
	URL, Version string
	Checksum     *string
}

// NewBuild records a pending build of app by user, for the Deploy that
// builds it: the Platform API answers a build before it begins, so its
// id is known first and passed on in DeployRequest.BuildID. Returns
// ENOTFOUND.
func (e *Engine) NewBuild(app string, src BuildSource, user string) (*Build, error) {
	a, err := e.App(app)
	if err != nil {
		return nil, err
	}
	r, err := e.startBuild(a, src, user)
	if err != nil {
		return nil, err
	}
	b := r.rec
	return &b, nil
}

// startBuild records a pending build of app and opens its output.
func (e *Engine) startBuild(app *App, src BuildSource, user string) (*buildRun, error) {
	now := time.Now().UTC()
	r := &buildRun{e: e, changed: make(chan struct{}), rec: Build{
		ID: newID(), AppID: app.ID, App: app.Name, Secret: buildSecret(), User: user,
		SourceURL: src.URL, Version: src.Version, Checksum: src.Checksum, Buildpacks: app.Buildpacks,
		Status: BuildPending, CreatedAt: now, UpdatedAt: now,
	}}
	if path := e.buildOutputPath(&r.rec); path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("keep the output of a build of %s: %w", app.Name, err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keep the output of a build of %s: %w", app.Name, err)
		}
		r.f = f
	}
	dropped, err := e.builds().AddBuild(&r.rec)
	if err != nil {
		if r.f != nil {
			r.f.Close()
			os.Remove(r.f.Name())
		}
		return nil, err
	}
	for _, d := range dropped {
		if path := e.buildOutputPath(d); path != "" {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				e.logf("forget build %s of %s: %v", d.ID, d.App, err)
			}
		}
	}
	e.buildRuns.add(r)
	return r, nil
}

// endBuild ends a build's output with line (when not ""), records how it
// ended (rel is its release when it succeeded) and lets its readers
// finish. A nil r does nothing.
func (e *Engine) endBuild(r *buildRun, rel *Release, line string) {
	if r == nil {
		return
	}
	r.finish(line)
	r.mu.Lock()
	b := r.rec
	r.mu.Unlock()
	b.Status, b.UpdatedAt = BuildFailed, time.Now().UTC()
	if rel != nil {
		b.Status, b.ReleaseID, b.SlugID = BuildSucceeded, rel.ID, rel.SlugID
	}
	if err := e.builds().UpdateBuild(&b); err != nil && ErrorCode(err) != ENOTFOUND {
		e.logf("build %s of %s: record its end: %v", b.ID, b.App, err)
	}
	e.buildRuns.remove(b.ID)
}

// failBuild ends a build that failed with err, saying why in its output
// unless the build's own output said it already (EBUILD).
func (e *Engine) failBuild(r *buildRun, err error) {
	line := ""
	if ErrorCode(err) != EBUILD {
		line = " !     " + ErrorMessage(err)
	}
	e.endBuild(r, nil, line)
}

// Builds returns the app's builds, oldest first. Returns ENOTFOUND.
func (e *Engine) Builds(app string) ([]*Build, error) {
	a, err := e.App(app)
	if err != nil {
		return nil, err
	}
	return e.builds().Builds(a.ID)
}

// buildTee writes to out and keeps a copy in the build's output; out's
// errors (a pusher gone) do not stop the copy.
type buildTee struct {
	out io.Writer
	run *buildRun
}

func (t buildTee) Write(p []byte) (int, error) {
	_, _ = t.run.Write(p)
	return t.out.Write(p)
}

// teeBuild returns out copied to r's output; out itself when r is nil.
func teeBuild(out io.Writer, r *buildRun) io.Writer {
	if out == nil {
		out = io.Discard
	}
	if r == nil {
		return out
	}
	return buildTee{out: out, run: r}
}
