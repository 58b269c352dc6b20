package engine

import "regexp"

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
