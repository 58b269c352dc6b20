package engine

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxConfigSize is Heroku's limit on an app's config vars: 32 KB of keys
// and values together.
const MaxConfigSize = 32 * 1024

var configKeyRe = regexp.MustCompile(`^\w+$`)

// reservedKeys are set by the platform for each dyno; a config var would
// be silently overridden, so setting one is refused.
var reservedKeys = map[string]string{
	"PORT": "hako gives each web dyno its own PORT",
	"DYNO": "hako names each dyno in DYNO (web.1, worker.2, …)",
}

// ValidateConfigKey refuses keys Heroku refuses, and the platform's own.
func ValidateConfigKey(k string) error {
	switch {
	case !configKeyRe.MatchString(k):
		return Errorf(EINVALID, "Config var %q is invalid: use letters, digits and underscores only.", k)
	case strings.HasPrefix(k, "__"):
		return Errorf(EINVALID, "Config var %q is invalid: names starting with __ are reserved.", k)
	case reservedKeys[k] != "":
		return Errorf(EINVALID, "Config var %s cannot be set: %s.", k, reservedKeys[k])
	}
	return nil
}

// Config returns the app's current config vars. Returns ENOTFOUND.
func (e *Engine) Config(name string) (map[string]string, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, err
	}
	rel, err := e.Store.Release(app.Name, app.CurrentRelease)
	if err != nil {
		return nil, err
	}
	if rel.Config == nil {
		return map[string]string{}, nil
	}
	return rel.Config, nil
}

// UpdateConfig sets (non-nil value) and removes (nil) config vars in one
// new release, "Set FOO, BAR config vars" or "Remove FOO config vars",
// and restarts the app's dynos on it. Returns EINVALID or ENOTFOUND.
func (e *Engine) UpdateConfig(ctx context.Context, name, user string, changes map[string]*string, out io.Writer) (*Release, error) {
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return nil, Errorf(EINVALID, "No config vars given: use KEY=VALUE to set, KEY to unset.")
	}
	for k, v := range changes {
		if v == nil {
			continue
		}
		if err := ValidateConfigKey(k); err != nil {
			return nil, err
		}
		if !utf8.ValidString(*v) || strings.ContainsRune(*v, 0) {
			return nil, Errorf(EINVALID, "Config var %s: values must be UTF-8 text without NUL bytes.", k)
		}
	}
	defer e.lock(name)()
	return e.configRelease(ctx, name, user, changes, "", out)
}

// configRelease writes the release that applies changes (validated by
// the caller, who holds the app's lock) and moves the app onto it. An
// empty desc describes the change the usual way.
func (e *Engine) configRelease(ctx context.Context, name, user string, changes map[string]*string, desc string, out io.Writer) (*Release, error) {
	var set, unset []string
	for k, v := range changes {
		if v == nil {
			unset = append(unset, k)
		} else {
			set = append(set, k)
		}
	}
	sort.Strings(set)
	sort.Strings(unset)
	return e.next(ctx, name, user, out, func(app *App, cur *Release) (*Release, error) {
		cfg := map[string]string{}
		for k, v := range cur.Config {
			cfg[k] = v
		}
		for _, k := range unset {
			if _, ok := cfg[k]; !ok {
				return nil, Errorf(EINVALID, "Config var %s is not set on %s: `hako config -a %s` lists them.", k, name, name)
			}
			delete(cfg, k)
		}
		for _, k := range set {
			cfg[k] = *changes[k]
		}
		if n := configSize(cfg); n > MaxConfigSize {
			return nil, Errorf(EINVALID, "Config vars of %s would take %d bytes; the limit is %d (32 KB). Keep large data in a file or an add-on.", name, n, MaxConfigSize)
		}
		if desc != "" {
			return &Release{SlugID: cur.SlugID, Config: cfg, Description: desc}, nil
		}
		var parts []string
		if len(set) > 0 {
			parts = append(parts, fmt.Sprintf("Set %s config vars", strings.Join(set, ", ")))
		}
		if len(unset) > 0 {
			parts = append(parts, fmt.Sprintf("Remove %s config vars", strings.Join(unset, ", ")))
		}
		return &Release{SlugID: cur.SlugID, Config: cfg, Description: strings.Join(parts, " and ")}, nil
	})
}

func configSize(cfg map[string]string) int {
	n := 0
	for k, v := range cfg {
		n += len(k) + len(v)
	}
	return n
}
