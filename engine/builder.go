package engine

import (
	"context"
	"io"
	"time"
)

// BuildRequest is what a build needs: the checked-out source and the
// app's config vars (given to buildpacks as ENV_DIR files, never exported).
type BuildRequest struct {
	App string
	// SourceDir holds the pushed tree; the builder may modify it.
	SourceDir string
	// CacheDir persists between the app's builds.
	CacheDir string
	// Commit is the version being built (the pushed commit, or the
	// version given with an upload), given to buildpacks as
	// SOURCE_VERSION; "" for none.
	Commit string
	Config map[string]string
	// Buildpacks, when not empty, are used in order instead of detection
	// (directories or names of built-in packs).
	Buildpacks []string
	// Out receives the build output as it happens, already in Heroku's
	// "-----> " style.
	Out io.Writer
	// UID and GID are the app's identity (App.UID), which every isolated
	// step of the build runs as.
	UID, GID int
	// Test builds for a test run (Heroku CI): each pack's bin/test-compile
	// runs instead of its bin/compile when it has one, app.json's
	// environments.test (env, buildpacks) applies, and the packs with a
	// bin/test are copied into the slug (BuildResult.TestPacks).
	Test bool
}

// BuildResult describes a slug the builder stored.
type BuildResult struct {
	SlugID       string // sha256 hex of the tar.gz
	Size         int64
	Buildpack    string // detected name, e.g. "Go"
	ProcessTypes map[string]string
	// AppJSON is the app's app.json, checked; nil when it has none.
	AppJSON *AppJSON
	// SlugTime is the part of the build spent packing the slug, for the
	// push's timing line.
	SlugTime time.Duration
	// TestPacks, for a test build, are the directories in the slug,
	// relative to its root, of the packs that have a bin/test.
	TestPacks []string
}

// Builder turns source into slugs and slugs back into app directories.
type Builder interface {
	// Build runs the buildpacks and stores the slug. A failed compile
	// returns an EBUILD error whose message has been shown on req.Out;
	// nothing is stored then.
	Build(ctx context.Context, req BuildRequest) (*BuildResult, error)
	// Unpack extracts a stored slug into dest (created, must not exist),
	// refusing entries that would escape it.
	Unpack(slugID, dest string) error
	// RemoveSlug deletes a slug's file.
	RemoveSlug(slugID string) error
	// ExtractSource extracts an uploaded tar.gz of an app's source into
	// dest (created, must not exist), with the care untrusted input
	// needs. Returns EINVALID for an unusable archive.
	ExtractSource(r io.Reader, dest string) error
}
