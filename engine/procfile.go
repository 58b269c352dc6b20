package engine

import (
	"bufio"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// MaxCommandSize caps a process type's command. A dyno's command reaches
// the kernel as one argument, which may not exceed 128 KB (E2BIG) with the
// environment beside it; 32 KB leaves room and is refused at push time
// rather than failing every start.
const MaxCommandSize = 32 << 10

var procTypeRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ParseProcfile reads a Procfile: lines "TYPE: COMMAND", blank lines and
// "#" comments skipped. A malformed line is an EINVALID error naming its
// line number, so the pusher can fix it.
func ParseProcfile(data string) (map[string]string, error) {
	types := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, cmd, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		cmd = strings.TrimSpace(cmd)
		switch {
		case !ok:
			return nil, Errorf(EINVALID, "Procfile line %d: %q is not \"TYPE: COMMAND\"", n, line)
		case !procTypeRe.MatchString(name):
			return nil, Errorf(EINVALID, "Procfile line %d: process type %q may only use letters, digits, '-' and '_'", n, name)
		case cmd == "":
			return nil, Errorf(EINVALID, "Procfile line %d: process type %q has no command", n, name)
		}
		if len(cmd) > MaxCommandSize {
			return nil, Errorf(EINVALID, "Procfile line %d: the command of process type %q is %d bytes; the limit is %d (32 KB).", n, name, len(cmd), MaxCommandSize)
		}
		if _, dup := types[name]; dup {
			return nil, Errorf(EINVALID, "Procfile line %d: process type %q is declared twice", n, name)
		}
		types[name] = cmd
	}
	if err := sc.Err(); err != nil {
		return nil, Errorf(EINVALID, "Procfile line %d: %v", n+1, err)
	}
	return types, nil
}

// ValidateProcessTypes checks process types however they were declared (a
// Procfile or a buildpack's defaults) before a release may use them.
// Returns EINVALID.
func ValidateProcessTypes(types map[string]string) error {
	for _, t := range ProcessTypeNames(types) {
		if n := len(types[t]); n > MaxCommandSize {
			return Errorf(EINVALID, "The command of process type %q is %d bytes; the limit is %d (32 KB).", t, n, MaxCommandSize)
		}
	}
	return nil
}

// The process types with a meaning of their own, as on Heroku: web
// dynos take the router's traffic; the release type is the release
// phase, run once per release before its dynos start.
const (
	WebType          = "web"
	ReleasePhaseType = "release"
)

// ProcessTypeNames returns the type names sorted, web first, as Heroku
// lists them ("Procfile declares types -> web, worker").
func ProcessTypeNames(types map[string]string) []string {
	names := make([]string, 0, len(types))
	for k := range types {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return typeLess(names[i], names[j]) })
	return names
}

// typeLess orders process type names web first, then by name: the order
// Heroku lists types and dynos in.
func typeLess(a, b string) bool {
	if (a == WebType) != (b == WebType) {
		return a == WebType
	}
	return a < b
}

// inFormation reports whether dynos of process type t can be scaled:
// every type but the release phase's, which runs once per release.
func inFormation(t string) bool { return t != ReleasePhaseType }

// formationTypes returns the types of types that run as the formation's
// dynos, web first.
func formationTypes(types map[string]string) []string {
	var names []string
	for _, t := range ProcessTypeNames(types) {
		if inFormation(t) {
			names = append(names, t)
		}
	}
	return names
}

// FormatProcfile writes types back in Procfile form, web first.
func FormatProcfile(types map[string]string) string {
	var b strings.Builder
	for _, k := range ProcessTypeNames(types) {
		fmt.Fprintf(&b, "%s: %s\n", k, types[k])
	}
	return b.String()
}
