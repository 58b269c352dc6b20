package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// BuildLimits bound what one deploy may take of the host's disk: an app's
// source as it is extracted (uploaded with `builds:create` or checked out
// from a push: a small tar.gz can expand a thousandfold), the files its
// build leaves, and its compiled slug. Past them the deploy fails with a
// message naming the limit and nothing of it is kept.
type BuildLimits struct {
	// SourceBytes caps the size of an app's source, extracted.
	SourceBytes int64
	// SourceEntries caps its files, directories and links.
	SourceEntries int
	// BuildBytes caps what the build directory holds once the buildpacks
	// are done (the source and what they added), and so an unpacked slug.
	BuildBytes int64
	// SlugBytes caps a compiled slug, compressed: Heroku's 500 MB.
	SlugBytes int64
	// RepoBytes caps what an app's git repository takes on disk, its
	// history, branches and tags together: each push is bounded by
	// SourceBytes, and this bounds them all.
	RepoBytes int64
	// BuildTime caps how long a build runs: one waiting on a step that
	// never ends (a script that sleeps) would hold the app's lock, its
	// build disk and its processes for good.
	BuildTime time.Duration
	// KeepSlugs is how many slugs of succeeded releases each app keeps
	// on disk besides its current release's (see retain.go): older ones
	// are removed, so that a loop of pushes cannot fill the disk.
	KeepSlugs int
}

// The defaults of BuildLimits.
const (
	DefaultSourceBytes   = 1 << 30
	DefaultSourceEntries = 200_000
	DefaultBuildBytes    = 4 << 30
	DefaultSlugBytes     = 500 << 20
	DefaultRepoBytes     = 2 << 30
	DefaultBuildTime     = 15 * time.Minute
)

// WithDefaults fills the unset limits with the defaults.
func (l BuildLimits) WithDefaults() BuildLimits {
	if l.SourceBytes <= 0 {
		l.SourceBytes = DefaultSourceBytes
	}
	if l.SourceEntries <= 0 {
		l.SourceEntries = DefaultSourceEntries
	}
	if l.BuildBytes <= 0 {
		l.BuildBytes = DefaultBuildBytes
	}
	if l.SlugBytes <= 0 {
		l.SlugBytes = DefaultSlugBytes
	}
	if l.RepoBytes <= 0 {
		l.RepoBytes = DefaultRepoBytes
	}
	if l.BuildTime <= 0 {
		l.BuildTime = DefaultBuildTime
	}
	if l.KeepSlugs <= 0 {
		l.KeepSlugs = DefaultKeepSlugs
	}
	return l
}

// String says the limits in one line, for the banner and apps:info.
func (l BuildLimits) String() string {
	l = l.WithDefaults()
	return fmt.Sprintf("source %d MiB and %d files, build %d MiB and %s, slug %d MB compressed, repository %d MiB",
		l.SourceBytes>>20, l.SourceEntries, l.BuildBytes>>20, l.BuildTime, l.SlugBytes>>20, l.RepoBytes>>20)
}

// buildDeadline bounds a build by the build time limit
// (BuildLimits.BuildTime): the build runs with bctx, and done, given its
// error, ends the deadline and, when the limit is what ended the build,
// says so to out and returns EBUILD in place of the build's own error.
func (e *Engine) buildDeadline(ctx context.Context, out io.Writer) (bctx context.Context, done func(error) error) {
	limit := e.Limits.WithDefaults().BuildTime
	bctx, cancel := context.WithTimeout(ctx, limit)
	return bctx, func(err error) error {
		defer cancel()
		if err != nil && errors.Is(bctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			fmt.Fprintf(out, " !     The build ran past its limit of %s (--build-timeout).\n", limit)
			return Errorf(EBUILD, "The build ran past its limit of %s.", limit)
		}
		return err
	}
}
