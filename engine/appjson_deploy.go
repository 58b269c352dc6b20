package engine

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// slugAppJSON returns the app.json a slug was built with, or nil. It was
// checked at the build, so a stored one parses.
func slugAppJSON(slug *Slug) *AppJSON {
	if slug == nil || len(slug.AppJSON) == 0 {
		return nil
	}
	a, err := ParseAppJSON(slug.AppJSON)
	if err != nil {
		return nil
	}
	return a
}

// firstDeploy reports whether cur, the current release, has never run
// code: the deploy about to happen is the app's first.
func firstDeploy(cur *Release) bool { return cur.SlugID == "" }

// setUp applies app.json's env and addons on an app's first deploy and
// returns the config the release gets: cur's vars, never overwritten,
// plus the declared ones missing (their value, or a generated secret) and
// the add-ons' URLs. A required var with no value fails, naming it,
// before anything is provisioned. The caller holds the app's lock.
func (e *Engine) setUp(ctx context.Context, app *App, cur *Release, aj *AppJSON, user string, out io.Writer) (map[string]string, error) {
	cfg := maps.Clone(cur.Config)
	if cfg == nil {
		cfg = map[string]string{}
	}
	if aj == nil || !firstDeploy(cur) {
		return cfg, nil
	}
	var missing []string
	for _, k := range slices.Sorted(maps.Keys(aj.Env)) {
		v := aj.Env[k]
		if _, ok := cfg[k]; ok {
			continue
		}
		switch {
		case v.HasValue:
			cfg[k] = v.Value
		case v.Generator == "secret":
			cfg[k] = newSecret()
		case v.Required:
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		vars := strings.Join(missing, ", ")
		msg := fmt.Sprintf("app.json: the required config var %s has no value: set it with `hako config:set -a %s %s=...` and push again.", vars, app.Name, missing[0])
		if len(missing) > 1 {
			msg = fmt.Sprintf("app.json: the required config vars %s have no value: set them with `hako config:set -a %s` and push again.", vars, app.Name)
		}
		fmt.Fprintf(out, " !     %s\n", msg)
		return nil, Errorf(EBUILD, "%s", msg)
	}
	for _, want := range aj.Addons {
		as, url, err := e.declaredAddon(ctx, app, want, user, out)
		if err != nil {
			msg := fmt.Sprintf("app.json: add-on %s could not be provisioned: %s", want.Plan, ErrorMessage(err))
			fmt.Fprintf(out, " !     %s\n", msg)
			return nil, Errorf(EBUILD, "%s", msg)
		}
		if as != "" {
			cfg[as+"_URL"] = url
		}
	}
	return cfg, nil
}

// declaredAddon provisions and attaches an add-on app.json declares,
// unless one is attached under its name already (a first deploy that
// failed later provisioned it). It returns the attachment and its URL,
// or "" when nothing was done. The caller holds the app's lock.
func (e *Engine) declaredAddon(ctx context.Context, app *App, want AppAddon, user string, out io.Writer) (string, string, error) {
	p, plan, err := e.provider(want.Plan)
	if err != nil {
		return "", "", err
	}
	as := want.As
	if as == "" {
		as = p.Attachment()
	}
	if !attachmentRe.MatchString(as) {
		return "", "", Errorf(EINVALID, "attachment name %q is invalid: use capital letters, digits and underscores, such as DATABASE", as)
	}
	fresh, err := e.Store.App(app.Name)
	if err != nil {
		return "", "", err
	}
	if slices.ContainsFunc(fresh.Addons, func(a Addon) bool { return a.As == as }) {
		// Attached by a first deploy that failed after: its URL is in
		// that deploy's release.
		rels, err := e.Store.Releases(app.Name)
		if err != nil {
			return "", "", err
		}
		for _, r := range rels {
			if url, ok := r.Config[as+"_URL"]; ok {
				return as, url, nil
			}
		}
		return "", "", nil
	}
	if want.Fork != "" && p.Service() == pgService {
		parent, parentAs, err := e.forkFor(app.Name, want.Fork)
		if err != nil {
			return "", "", err
		}
		if parent != "" {
			url, err := e.forkAddon(ctx, app, parent, parentAs, plan, as, user, out)
			return as, url, err
		}
	}
	short := strings.TrimPrefix(p.Service(), "heroku-")
	a := &Addon{ID: newID(), Name: fmt.Sprintf("%s-%s-%05d", short, nameAdjectives[rand.IntN(len(nameAdjectives))], rand.IntN(100000)),
		App: app.Name, Service: p.Service(), Plan: plan, As: as, State: "provisioned", Created: time.Now().UTC()}
	fmt.Fprintf(out, "-----> Provisioning %s (%s:%s) as %s\n", a.Name, p.Service(), plan, as)
	url, res, err := p.Provision(ctx, a.Name, plan)
	if err != nil {
		return "", "", err
	}
	a.Resource = res
	e.exposeAddon(res)
	if _, err := e.Store.UpdateApp(app.Name, func(x *App) error { x.Addons = append(x.Addons, *a); return nil }); err != nil {
		return "", "", errors.Join(err, p.Deprovision(ctx, res))
	}
	e.log(app.Name, "api", "Attach %s (%s) by user %s", as, a.Name, user)
	return as, url, nil
}

// newSecret returns 32 random bytes in hex: app.json's generator "secret".
func newSecret() string {
	var b [32]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// declaredFormation returns the formation a release of a slug with types
// runs: on the first deploy (formation empty) Heroku's initial one with
// app.json's quantities over it; later, app.json's quantity for each type
// that appears for the first time. changed says whether it differs from
// formation, which is never modified.
func declaredFormation(formation map[string]int, types map[string]string, aj *AppJSON) (map[string]int, bool) {
	if len(formation) == 0 {
		f := initialFormation(types)
		if aj != nil {
			for t, d := range aj.Formation {
				if _, ok := f[t]; ok {
					f[t] = d.Quantity
				}
			}
		}
		return f, true
	}
	if aj == nil {
		return formation, false
	}
	var f map[string]int
	for _, t := range formationTypes(types) {
		d, declared := aj.Formation[t]
		if _, known := formation[t]; known || !declared {
			continue
		}
		if f == nil {
			f = maps.Clone(formation)
		}
		f[t] = d.Quantity
	}
	if f == nil {
		return formation, false
	}
	return f, true
}
