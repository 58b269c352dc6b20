package engine

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

var appNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,28}[a-z0-9]$`)

// ValidateAppName refuses names Heroku would refuse. Every path built from
// an app name relies on this check, so it runs before anything touches the
// filesystem.
func ValidateAppName(name string) error {
	if !appNameRe.MatchString(name) {
		return Errorf(EINVALID, "Name %q is invalid: it must start with a letter, end with a letter or digit, use only lowercase letters, digits and dashes, and be 3 to 30 characters long.", name)
	}
	return nil
}

// DashboardName is the name the dashboard is served under
// (http://hako.DOMAIN/): no app may take it, or the router would send the
// dashboard's requests to it.
const DashboardName = "hako"

// validateNewAppName is ValidateAppName for a name an app is to take.
func validateNewAppName(name string) error {
	if err := ValidateAppName(name); err != nil {
		return err
	}
	if name == DashboardName {
		return Errorf(EINVALID, "Name %q is reserved: the dashboard is served at %s.DOMAIN.", name, name)
	}
	return nil
}

// ValidateText checks a client's free text that the CLI prints as it is
// (a release's description, a slug's commit): at most max bytes of UTF-8
// without control characters, so that a collaborator cannot send escape
// sequences to the terminals of those who list the app's releases.
// Returns EINVALID naming what.
func ValidateText(what, v string, max int) error {
	if len(v) > max || !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
		return Errorf(EINVALID, "The %s must be text of at most %d bytes without control characters.", what, max)
	}
	return nil
}
