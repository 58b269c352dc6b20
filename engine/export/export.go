// Package export describes a hako release in the terms every outside
// engine needs — its slug, process types, formation, config and add-ons —
// so that each output format (an OCI image, Compose, Kubernetes, Nomad)
// is a translation of one model rather than a second reading of the API.
// hako is one machine by design; export is how an app leaves it for an
// engine that spans several, carrying the exact slug it already ran.
//
// The formats live in packages named for the library that writes them
// (containerregistry for the OCI image); this package imports none.
package export

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Release is the format-independent model of one release of an app.
type Release struct {
	App     string
	Version int
	Commit  string
	// SlugSHA256 is the hex sha256 of the slug archive, the checksum
	// that an import onto another hako keeps.
	SlugSHA256 string
	// ProcessTypes are the slug's commands by process type.
	ProcessTypes map[string]string
	// CreatedAt is the release's time: every timestamp of the image is
	// it, so that the same release exports to the same digest.
	CreatedAt time.Time
}

// Labels the image carries, read back by import.
const (
	LabelApp          = "io.hako.app"
	LabelRelease      = "io.hako.release"
	LabelCommit       = "io.hako.commit"
	LabelSlugSHA256   = "io.hako.slug.sha256"
	LabelProcessTypes = "io.hako.process-types"
)

// SlugPath is where the image keeps the slug archive as it was, so that
// an import recreates the slug byte for byte (its sha256 unchanged); the
// /app layer alone could not give back the same gzip stream.
const SlugPath = "hako/slug.tgz"

// StartPath is the image's entrypoint: StartScript.
const StartPath = "hako/start"

// DefaultPort is the PORT an image's process listens on when the engine
// running it sets none, as Heroku's local tools assume.
const DefaultPort = 5000

// StartScript is the image's entrypoint. It does what a dyno's start
// does: HOME=/app, PORT defaulted, .profile.d/*.sh in name order then
// the app's .profile sourced, cd /app, then its arguments run as one
// shell command, so that `CMD ["bundle exec puma -p $PORT"]` expands
// $PORT as a Procfile line does.
const StartScript = `#!/bin/sh
export HOME=/app
export PORT="${PORT:-5000}"
cd /app || exit 1
for f in /app/.profile.d/*.sh; do [ -r "$f" ] && . "$f"; done; unset f
[ -r /app/.profile ] && . /app/.profile
cd /app || exit 1
exec sh -c "$*"
`

var versionRe = regexp.MustCompile(`^v?([1-9][0-9]{0,8})$`)

// ParseVersion reads "vN" or "N", as --release takes it.
func ParseVersion(s string) (int, error) {
	m := versionRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a release version: give vN, such as v3", s)
	}
	return strconv.Atoi(m[1])
}

// Name is the image's base name, APP-vN.
func (r *Release) Name() string { return fmt.Sprintf("%s-v%d", r.App, r.Version) }

// Labels are the image's labels: app, release, commit and slug sha256,
// with the process types as JSON for import.
func (r *Release) Labels(processTypesJSON string) map[string]string {
	l := map[string]string{
		LabelApp:                           r.App,
		LabelRelease:                       "v" + strconv.Itoa(r.Version),
		LabelSlugSHA256:                    r.SlugSHA256,
		LabelProcessTypes:                  processTypesJSON,
		"org.opencontainers.image.title":   r.App,
		"org.opencontainers.image.version": "v" + strconv.Itoa(r.Version),
	}
	if r.Commit != "" {
		l[LabelCommit] = r.Commit
		l["org.opencontainers.image.revision"] = r.Commit
	}
	return l
}

// DefaultCommand is the command an image runs without arguments: web's
// when there is one, else the first process type by name.
func (r *Release) DefaultCommand() string {
	if c, ok := r.ProcessTypes["web"]; ok {
		return c
	}
	types := slices.Sorted(maps.Keys(r.ProcessTypes))
	if len(types) == 0 {
		return ""
	}
	return r.ProcessTypes[types[0]]
}
