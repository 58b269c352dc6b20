package e2e

import (
	"fmt"
	"regexp"
	"strings"
)

// Output is checked by whole lines or exact values, never by substrings:
// an app name, a port, a dyno name (run.4312) or a timestamp may contain
// any short string a test looks for.

// lines splits output into lines without their CR LF or LF ends.
func lines(out string) []string {
	out = strings.TrimRight(out, "\r\n")
	if out == "" {
		return nil
	}
	ls := strings.Split(out, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// hasLine reports whether some line of out is exactly want.
func hasLine(out, want string) bool {
	for _, l := range lines(out) {
		if l == want {
			return true
		}
	}
	return false
}

// hasLineMatch reports whether some whole line of out matches the
// regular expression re (anchored at both ends here).
func hasLineMatch(out, re string) bool {
	r := regexp.MustCompile("^(?:" + re + ")$")
	for _, l := range lines(out) {
		if r.MatchString(l) {
			return true
		}
	}
	return false
}

// released reports whether a push's or build's output has the line
// "Released vN" for exactly v (git adds "remote:" before and spaces after
// the server's lines).
func released(out string, v int) bool {
	return hasLineMatch(out, fmt.Sprintf(`(remote:)?\s*Released v%d\s*`, v))
}

// currentRelease reports whether `releases` output says vN is current.
func currentRelease(out string, v int) bool {
	return hasLineMatch(out, fmt.Sprintf(`=== ⬢ \S+ Releases - Current: v%d`, v))
}
