package engine

import (
	"regexp"
	"strings"
)

// MaxBuildpacks bounds an app's list, as Heroku does.
const MaxBuildpacks = 6

var buildpackNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$`)

// BuildpackURN prefixes a registry name where Heroku's API takes a
// buildpack URL (urn:buildpack:heroku/go): what the heroku CLI installs
// for a name that hako's buildpack registry knows.
const BuildpackURN = "urn:buildpack:"

// ValidateBuildpack accepts what an app may name as a buildpack: a
// built-in or installed pack's name (go, heroku/nodejs, my-pack, also as
// urn:buildpack:heroku/go) or a
// remote git URL. Paths on the server are refused: which files the server
// runs is not the app's choice.
func ValidateBuildpack(spec string) error {
	switch {
	case len(spec) > 512 || strings.ContainsAny(spec, " \t\r\n"):
	case buildpackNameRe.MatchString(strings.TrimPrefix(spec, BuildpackURN)):
		return nil
	default:
		for _, p := range []string{"https://", "http://", "ssh://", "git://", "git@"} {
			if strings.HasPrefix(spec, p) && len(spec) > len(p) {
				return nil
			}
		}
	}
	return Errorf(EINVALID, "Buildpack %q is invalid: use a built-in pack (go, nodejs, procfile), a pack installed in the server's buildpacks directory, or a remote git URL.", spec)
}

// SetBuildpacks replaces the app's buildpacks, used in order by its next
// builds instead of detection; an empty list goes back to detection.
// Returns EINVALID or ENOTFOUND.
func (e *Engine) SetBuildpacks(name string, packs []string) ([]string, error) {
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	if len(packs) > MaxBuildpacks {
		return nil, Errorf(EINVALID, "An app may use at most %d buildpacks.", MaxBuildpacks)
	}
	seen := map[string]bool{}
	for _, p := range packs {
		if err := ValidateBuildpack(p); err != nil {
			return nil, err
		}
		if seen[p] {
			return nil, Errorf(EINVALID, "Buildpack %s is listed twice.", p)
		}
		seen[p] = true
	}
	app, err := e.Store.UpdateApp(name, func(a *App) error {
		a.Buildpacks = append([]string(nil), packs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return app.Buildpacks, nil
}
