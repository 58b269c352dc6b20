package engine

import (
	"context"
	"io"
	"slices"
	"strings"
)

// redisService is the service of Heroku's Key-Value Store (Redis).
const redisService = "heroku-redis"

// Heroku's redis commands name a Redis add-on through an app it is
// attached to, as the pg commands name a database, with the same
// authorization (access to the app named); the argument is resolved as
// the heroku CLI's redis commands resolve it.

// redisAddon resolves a Redis argument among the heroku-redis add-ons
// attached to app, its own and other apps' alike. With no argument it
// is the app's only one (more is an error, as in the heroku CLI). An
// argument naming an attachment (REDIS), its config var (REDIS_URL),
// an attachment id, or the add-on's name or id picks that add-on; else,
// as the CLI matches, it picks the one add-on with the argument, in any
// case, inside one of its config vars on app or its name. An argument
// naming an add-on of another service gets that said. It returns the
// add-on and its config vars on app, REDIS_URL first. Returns ENOTFOUND
// or EINVALID.
func (e *Engine) redisAddon(app *App, which string) (*Addon, []string, error) {
	on, err := e.attachmentsOn(app.Name)
	if err != nil {
		return nil, nil, err
	}
	exact := func(at AddonAttachment) bool {
		return which != "" && (at.Name == strings.TrimSuffix(which, "_URL") || at.ID == which || at.Addon.Name == which || at.Addon.ID == which)
	}
	// One entry per add-on, in the order first attached; its config vars
	// on app gathered.
	var addons []Addon
	vars := map[string][]string{}
	for _, at := range on {
		if at.Addon.Service != redisService {
			if exact(at) {
				return nil, nil, Errorf(EINVALID, "%s is a %s add-on: the redis commands act on heroku-redis add-ons only.", at.Addon.Name, at.Addon.Service)
			}
			continue
		}
		if _, ok := vars[at.Addon.ID]; !ok {
			addons = append(addons, at.Addon)
		}
		vars[at.Addon.ID] = append(vars[at.Addon.ID], at.ConfigVar())
	}
	if len(addons) == 0 {
		return nil, nil, Errorf(ENOTFOUND, "%s has no heroku-redis add-on: `hako addons:create heroku-redis -a %s` adds one.", app.Name, app.Name)
	}
	var found []Addon
	switch {
	case which == "":
		found = addons
	default:
		for _, at := range on {
			if at.Addon.Service == redisService && exact(at) {
				found = []Addon{at.Addon}
				break
			}
		}
		if found == nil {
			want := strings.ToUpper(which)
			for _, a := range addons {
				if strings.Contains(strings.ToUpper(a.Name), want) || slices.ContainsFunc(vars[a.ID], func(v string) bool { return strings.Contains(v, want) }) {
					found = append(found, a)
				}
			}
		}
	}
	switch len(found) {
	case 0:
		var names []string
		for _, a := range addons {
			names = append(names, vars[a.ID]...)
		}
		slices.Sort(names)
		return nil, nil, Errorf(ENOTFOUND, "Unknown Redis add-on: %s. Valid options are: %s", which, strings.Join(names, ", "))
	case 1:
	default:
		var names []string
		for _, a := range found {
			names = append(names, a.Name)
		}
		return nil, nil, Errorf(EINVALID, "Please specify a single instance. Found: %s", strings.Join(names, ", "))
	}
	a := found[0]
	v := vars[a.ID]
	slices.SortStableFunc(v, func(x, y string) int { return boolInt(x != "REDIS_URL") - boolInt(y != "REDIS_URL") })
	return &a, v, nil
}

// RedisCredentials returns the heroku-redis add-on of the app that
// which names (see redisAddon) and the URL the app's config var carries
// for it, as Heroku's redis:credentials prints it. Returns ENOTFOUND or
// EINVALID.
func (e *Engine) RedisCredentials(name, which string) (*Addon, string, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, "", err
	}
	a, vars, err := e.redisAddon(app, which)
	if err != nil {
		return nil, "", err
	}
	cfg, err := e.Config(app.Name)
	if err != nil {
		return nil, "", err
	}
	for _, v := range vars {
		if url, ok := cfg[v]; ok {
			return a, url, nil
		}
	}
	return nil, "", Errorf(ENOTFOUND, "%s has no URL on %s: its config var %s was removed.", a.Name, app.Name, vars[0])
}

// ResetRedisCredentials gives the heroku-redis add-on of the app that
// which names (see redisAddon) a new password, as Heroku's
// redis:credentials --reset, which asks for no confirmation: the old
// password is refused from then on and every app the add-on is attached
// to gets the new URL in a release that restarts its dynos, as a
// PostgreSQL rotation does (see RotateCredentials). Returns ENOTFOUND or
// EINVALID; a refusal changes nothing.
func (e *Engine) ResetRedisCredentials(ctx context.Context, name, which, user string, out io.Writer) (*Rotation, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, err
	}
	a, _, err := e.redisAddon(app, which)
	if err != nil {
		return nil, err
	}
	return e.rotate(ctx, app, a, user, out)
}
