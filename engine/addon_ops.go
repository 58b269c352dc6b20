package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var attachmentRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// colors name an app's further add-ons of one service, as Heroku's do
// (HEROKU_POSTGRESQL_ROSE_URL): the first takes the plain attachment.
var colors = []string{"AMBER", "BLUE", "COBALT", "CRIMSON", "GOLD", "GRAY", "GREEN", "IVORY", "JADE", "MAROON", "NAVY", "OLIVE", "ONYX", "PINK", "PUCE", "ROSE", "SILVER", "TEAL", "VIOLET", "YELLOW"}

// AddonRequest is `addons:create SERVICE[:PLAN] [--as NAME]`.
type AddonRequest struct {
	App     string
	Service string // heroku-postgresql or heroku-postgresql:essential-0
	As      string // attachment name; "" picks one
	User    string
	Out     io.Writer
}

// provider returns the provider of a service, and the plan asked for.
func (e *Engine) provider(spec string) (AddonProvider, string, error) {
	service, plan, _ := strings.Cut(spec, ":")
	p, ok := e.AddonProviders[service]
	if !ok {
		var known []string
		for k := range e.AddonProviders {
			known = append(known, k)
		}
		slices.Sort(known)
		return nil, "", Errorf(EINVALID, "Unknown add-on service %q: hako offers %s.", service, strings.Join(known, ", "))
	}
	if plan == "" {
		plan = p.Plans()[0]
	}
	if !slices.Contains(p.Plans(), plan) {
		return nil, "", Errorf(EINVALID, "Unknown plan %q for %s: plans are %s.", plan, service, strings.Join(p.Plans(), ", "))
	}
	return p, plan, nil
}

// CreateAddon provisions an add-on and attaches it: a new release sets
// its config var (DATABASE_URL), "Attach DATABASE (heroku-postgresql)".
// Returns EINVALID, ENOTFOUND or ECONFLICT.
func (e *Engine) CreateAddon(ctx context.Context, req AddonRequest) (*Addon, error) {
	p, plan, err := e.provider(req.Service)
	if err != nil {
		return nil, err
	}
	if req.As != "" && !attachmentRe.MatchString(req.As) {
		return nil, Errorf(EINVALID, "Attachment name %q is invalid: use capital letters, digits and underscores, such as DATABASE.", req.As)
	}
	app, err := e.App(req.App)
	if err != nil {
		return nil, err
	}
	defer e.lock(app.Name)()
	if app, err = e.Store.App(app.Name); err != nil {
		return nil, err
	}
	on, err := e.attachmentsOn(app.Name)
	if err != nil {
		return nil, err
	}
	as, err := attachmentFor(app.Name, on, p, req.As)
	if err != nil {
		return nil, err
	}
	short := strings.TrimPrefix(p.Service(), "heroku-")
	a := &Addon{ID: newID(), Name: fmt.Sprintf("%s-%s-%05d", short, nameAdjectives[rand.IntN(len(nameAdjectives))], rand.IntN(100000)),
		App: app.Name, Service: p.Service(), Plan: plan, As: as, State: "provisioned", Created: time.Now().UTC()}
	url, res, err := p.Provision(ctx, a.Name, plan)
	if err != nil {
		return nil, err
	}
	a.Resource = res
	e.exposeAddon(res)
	// Recorded before the release, so that a crash in between leaves a
	// resource the app still knows of (and can destroy), never an orphan.
	if _, err := e.Store.UpdateApp(app.Name, func(x *App) error { x.Addons = append(x.Addons, *a); return nil }); err != nil {
		return nil, errors.Join(err, p.Deprovision(ctx, res))
	}
	e.log(app.Name, "api", "Attach %s (%s) by user %s", as, a.Name, req.User)
	desc := fmt.Sprintf("Attach %s (%s)", as, p.Service())
	if _, err := e.configRelease(ctx, app.Name, req.User, map[string]*string{a.ConfigVar(): &url}, desc, req.Out); err != nil {
		_, uerr := e.Store.UpdateApp(app.Name, func(x *App) error { x.Addons = dropAddon(x.Addons, a.Name); return nil })
		return nil, errors.Join(err, uerr, p.Deprovision(ctx, res))
	}
	return a, nil
}

// attachmentFor picks the attachment name of a new add-on of app, whose
// attachments are on: the one asked for if free, else the service's
// default if free, else a colored one.
func attachmentFor(app string, on []AddonAttachment, p AddonProvider, want string) (string, error) {
	taken := func(as string) bool {
		return slices.ContainsFunc(on, func(a AddonAttachment) bool { return a.Name == as })
	}
	if want != "" {
		if taken(want) {
			return "", Errorf(ECONFLICT, "%s already has an add-on attached as %s: choose another name with --as.", app, want)
		}
		return want, nil
	}
	if !taken(p.Attachment()) {
		return p.Attachment(), nil
	}
	base := "HEROKU_" + strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(p.Service(), "heroku-"), "-", "_"))
	for _, c := range colors {
		if as := base + "_" + c; !taken(as) {
			return as, nil
		}
	}
	return "", Errorf(EINVALID, "%s has too many %s add-ons.", app, p.Service())
}

func dropAddon(list []Addon, name string) []Addon {
	return slices.DeleteFunc(slices.Clone(list), func(a Addon) bool { return a.Name == name })
}

// Addons lists the app's add-ons. Returns ENOTFOUND.
func (e *Engine) Addons(name string) ([]Addon, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, err
	}
	return app.Addons, nil
}

// AddonInfo returns one of the add-ons attached to the app (by name,
// attachment or id): its own, or another app's attached to it; and, where its provider can tell, how much of its plan it uses.
// Returns ENOTFOUND.
func (e *Engine) AddonInfo(ctx context.Context, name, addon string) (*Addon, []UsageField, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, nil, err
	}
	on, err := e.attachmentsOn(app.Name)
	if err != nil {
		return nil, nil, err
	}
	// Its own add-ons first, by name, attachment or id; then those of
	// other apps attached to it.
	i := slices.IndexFunc(app.Addons, func(a Addon) bool { return a.Name == addon || a.As == addon || a.ID == addon })
	j := slices.IndexFunc(on, func(at AddonAttachment) bool {
		return at.Addon.Name == addon || at.Name == addon || at.Addon.ID == addon || at.ID == addon
	})
	var a Addon
	switch {
	case i >= 0:
		a = app.Addons[i]
	case j >= 0:
		a = on[j].Addon
	default:
		return nil, nil, Errorf(ENOTFOUND, "%s has no add-on %s: `hako addons -a %s` lists them.", app.Name, addon, app.Name)
	}
	r, ok := e.AddonProviders[a.Service].(AddonReporter)
	if !ok {
		return &a, nil, nil
	}
	usage, err := r.Usage(ctx, a.Resource, a.Plan)
	if err != nil {
		// The add-on is there all the same: say what could not be measured.
		usage = []UsageField{{Name: "Usage", Value: "unknown: " + err.Error()}}
	}
	return &a, usage, nil
}

// DestroyAddon removes an add-on of the app (by name, attachment or id)
// and every attachment of it: a new release of each app it is attached
// to unsets the attachment's config var, "Detach DATABASE
// (heroku-postgresql)", then its resource and data go for good. An
// add-on attached to other apps is destroyed only with force, as on
// Heroku, since those apps lose it too. Returns ENOTFOUND, EINVALID or
// ECONFLICT.
func (e *Engine) DestroyAddon(ctx context.Context, name, addon, user string, force bool, out io.Writer) (*Addon, error) {
	app, err := e.App(name)
	if err != nil {
		return nil, err
	}
	find := func(app *App) (*Addon, error) {
		i := slices.IndexFunc(app.Addons, func(a Addon) bool { return a.Name == addon || a.As == addon || a.ID == addon })
		if i >= 0 {
			return &app.Addons[i], nil
		}
		if at, err := e.Attachment(app.Name, addon); err == nil {
			return nil, Errorf(EINVALID, "%s is attached to %s but belongs to %s: `hako addons:detach %s -a %s` detaches it, `hako addons:destroy %s -a %s` destroys it.",
				at.Addon.Name, app.Name, at.Addon.App, at.Name, app.Name, at.Addon.Name, at.Addon.App)
		}
		return nil, Errorf(ENOTFOUND, "%s has no add-on %s: `hako addons -a %s` lists them.", app.Name, addon, app.Name)
	}
	a, err := find(app)
	if err != nil {
		return nil, err
	}
	// Lock the app and every app the add-on is attached to; attaching
	// it elsewhere meanwhile widens the set, so read again until it
	// holds still.
	var unlock func()
	for {
		apps := []string{app.Name}
		for _, at := range a.Attachments {
			apps = append(apps, at.App)
		}
		unlock = e.lockApps(apps...)
		if app, err = e.Store.App(app.Name); err != nil {
			unlock()
			return nil, err
		}
		b, err := find(app)
		if err != nil {
			unlock()
			return nil, err
		}
		if slices.Equal(attachedApps(b), attachedApps(a)) {
			a = b
			break
		}
		unlock()
		a = b
	}
	defer unlock()
	p, ok := e.AddonProviders[a.Service]
	if !ok {
		return nil, Errorf(EINVALID, "This server does not offer %s any more, so %s cannot be removed here.", a.Service, a.Name)
	}
	if others := slices.DeleteFunc(attachedApps(a), func(n string) bool { return n == a.App }); len(others) > 0 && !force {
		return nil, Errorf(ECONFLICT, "%s is attached to other apps too (%s), which would lose it: re-run with --force to destroy it and detach it from them.", a.Name, strings.Join(others, ", "))
	}
	if err := e.detachAll(ctx, *a, user, out); err != nil {
		return nil, err
	}
	if err := p.Deprovision(ctx, a.Resource); err != nil {
		return nil, err
	}
	if _, err := e.Store.UpdateApp(app.Name, func(x *App) error { x.Addons = dropAddon(x.Addons, a.Name); return nil }); err != nil {
		return nil, err
	}
	// Its port may serve another add-on one day.
	e.narrowReach(attachedApps(a)...)
	e.log(app.Name, "api", "Destroy %s by user %s", a.Name, user)
	return a, nil
}

// attachedApps lists the apps an add-on is attached to, its own first.
func attachedApps(a *Addon) []string {
	out := []string{a.App}
	for _, at := range a.Attachments {
		out = append(out, at.App)
	}
	return out
}

// detachAll unsets the config var of every attachment of a, the others
// first and its own last, each in a new release of its app, and forgets
// each other attachment once its app no longer has it, so that a failure
// part way leaves a record of what is left. The apps' locks are held.
func (e *Engine) detachAll(ctx context.Context, a Addon, user string, out io.Writer) error {
	for _, at := range a.Attachments {
		if err := e.unsetAttachment(ctx, AddonAttachment{Attachment: at, Addon: a}, user, out); err != nil {
			return fmt.Errorf("detach %s from %s: %w", a.Name, at.App, err)
		}
		if err := e.dropAttachment(a.App, a.ID, at.ID); err != nil {
			return err
		}
	}
	return e.unsetAttachment(ctx, AddonAttachment{Attachment: a.Own(), Addon: a}, user, out)
}

// StartAddons brings up the servers of every add-on in the store, for a
// server start, before any dyno needs them.
func (e *Engine) StartAddons(ctx context.Context) error {
	defer e.addonsStarted()
	apps, err := e.Store.Apps()
	if err != nil {
		return err
	}
	byService := map[string][]map[string]string{}
	for _, a := range apps {
		for _, ad := range a.Addons {
			res := maps.Clone(ad.Resource)
			if res == nil {
				res = map[string]string{}
			}
			res["plan"] = ad.Plan
			byService[ad.Service] = append(byService[ad.Service], res)
		}
	}
	var errs error
	for service, p := range e.AddonProviders {
		if err := p.Start(ctx, byService[service]); err != nil {
			errs = errors.Join(errs, fmt.Errorf("start %s: %w", service, err))
		}
		for _, res := range byService[service] {
			e.exposeAddon(res)
		}
	}
	return errs
}

// addonExposer is a Supervisor whose dynos reach the host only where it
// lets them: dynos in network namespaces of their own (see dyno.Supervisor).
type addonExposer interface {
	Expose(port int) error
}

// addonReacher is a Supervisor whose dynos reach only the add-ons
// attached to their own app: it asks which ports those are as each dyno
// starts (see dyno.Supervisor.SetAddonReach).
type addonReacher interface {
	SetAddonReach(func(app string) []int)
}

// reachNarrower is a Supervisor that can take from running processes the
// reach of the add-ons no longer attached to their app (see
// dyno.Supervisor.NarrowAddonReach).
type reachNarrower interface {
	NarrowAddonReach(app string) error
}

// narrowReach takes from each app's running dynos the reach of add-ons
// detached from it: those its releases replaced are gone already, but a
// one-off dyno lives on. A failure is logged: the add-on is detached
// all the same, and its credentials are what pg:credentials:rotate is for.
func (e *Engine) narrowReach(apps ...string) {
	n, ok := e.Supervisor.(reachNarrower)
	if !ok {
		return
	}
	for _, app := range slices.Compact(slices.Sorted(slices.Values(apps))) {
		if err := n.NarrowAddonReach(app); err != nil {
			log.Printf("addons: the reach of %s's dynos: %v", app, err)
		}
	}
}

// addonPorts lists the ports of the add-on servers the app's dynos may
// reach: those of the add-ons attached to it, its own and others'. An
// app's attachments change only in a release, which starts new dynos.
func (e *Engine) addonPorts(app string) []int {
	on, err := e.attachmentsOn(app)
	if err != nil {
		log.Printf("addons: the add-ons of %s: %v", app, err)
		return nil
	}
	var ports []int
	for _, at := range on {
		if p, err := strconv.Atoi(at.Addon.Resource["port"]); err == nil && p > 0 && p <= 65535 {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// exposeAddon lets dynos reach the port of an add-on's server, named by
// its resource record's "port"; failures are logged, as the add-on still
// serves the host.
func (e *Engine) exposeAddon(res map[string]string) {
	x, ok := e.Supervisor.(addonExposer)
	if !ok {
		return
	}
	port, err := strconv.Atoi(res["port"])
	if err != nil || port <= 0 || port > 65535 {
		return
	}
	if err := x.Expose(port); err != nil {
		log.Printf("addons: %v", err)
	}
}

// StopAddons shuts the add-on servers down, after the dynos.
func (e *Engine) StopAddons() {
	for _, p := range e.AddonProviders {
		p.Stop()
	}
}

// destroyAddons removes every add-on of an app being destroyed, after
// detaching each from the other apps it is attached to, and forgets the
// app's attachments to other apps' add-ons. The locks of the app and of
// those it shares add-ons with are held.
func (e *Engine) destroyAddons(ctx context.Context, app *App, user string) error {
	var errs error
	for _, a := range app.Addons {
		for _, at := range a.Attachments {
			if at.App == app.Name {
				continue // goes with the app
			}
			errs = errors.Join(errs, e.unsetAttachment(ctx, AddonAttachment{Attachment: at, Addon: a}, user, nil))
		}
		if p, ok := e.AddonProviders[a.Service]; ok {
			errs = errors.Join(errs, p.Deprovision(ctx, a.Resource))
		}
	}
	on, err := e.attachmentsOn(app.Name)
	if err != nil {
		return errors.Join(errs, err)
	}
	for _, at := range on {
		if at.Addon.App != app.Name {
			errs = errors.Join(errs, e.dropAttachment(at.Addon.App, at.Addon.ID, at.ID))
		}
	}
	return errs
}
