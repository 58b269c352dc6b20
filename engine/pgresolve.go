package engine

import (
	"regexp"
	"slices"
	"strings"
)

// Heroku's pg commands name a database through an app: any app the
// database is attached to, not only the one that owns it, so that an
// app sharing another's database backs it up, copies it and reads its
// state as the owner does, with the same authorization (access to the
// app named). The argument is resolved as the heroku CLI resolves it.

// pgAddon resolves a database argument among the heroku-postgresql
// add-ons attached to app, its own and other apps' alike, as the heroku
// CLI's pg commands resolve theirs: by attachment name (DATABASE,
// HEROKU_POSTGRESQL_RED) or its config var (DATABASE_URL), attachment id,
// or the add-on's name or id; "" is DATABASE, or when the app has none
// the first (its own first). An add-on not attached to app is not found
// through it, whoever owns it. Returns ENOTFOUND.
func (e *Engine) pgAddon(app *App, which string) (*Addon, error) {
	on, err := e.attachmentsOn(app.Name)
	if err != nil {
		return nil, err
	}
	var pgs []AddonAttachment
	for _, at := range on {
		if at.Addon.Service == pgService {
			pgs = append(pgs, at)
		}
	}
	if len(pgs) == 0 {
		return nil, Errorf(ENOTFOUND, "%s has no heroku-postgresql add-on: `hako addons:create heroku-postgresql -a %s` adds one.", app.Name, app.Name)
	}
	// Its own add-ons first, so that "" falls back to one of them.
	slices.SortStableFunc(pgs, func(x, y AddonAttachment) int {
		return boolInt(x.Addon.App != app.Name) - boolInt(y.Addon.App != app.Name)
	})
	ref := strings.TrimSuffix(which, "_URL")
	if ref == "" {
		ref = "DATABASE"
	}
	i := slices.IndexFunc(pgs, func(at AddonAttachment) bool { return at.Name == ref || at.ID == ref })
	if i < 0 {
		i = slices.IndexFunc(pgs, func(at AddonAttachment) bool { return at.Addon.Name == ref || at.Addon.ID == ref })
	}
	if i < 0 && which == "" {
		i = 0
	}
	if i < 0 {
		var names []string
		for _, at := range pgs {
			names = append(names, at.Name)
		}
		slices.Sort(names)
		return nil, Errorf(ENOTFOUND, "Unknown database: %s. Valid options are: %s", ref, strings.Join(slices.Compact(names), ", "))
	}
	a := pgs[i].Addon
	return &a, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dbAppRe is Heroku's APP::DATABASE form of a database argument.
var dbAppRe = regexp.MustCompile(`^([a-z][a-z0-9-]{1,28}[a-z0-9])::(.+)$`)

// pgDatabase resolves a database argument given through the app named
// (see pgAddon). In Heroku's form OTHER::DATABASE it names a database of
// OTHER instead, which user must have access to, as to the app named:
// access to one app says nothing of another. It returns the app the
// database was found through. Returns ENOTFOUND or EFORBIDDEN.
func (e *Engine) pgDatabase(name, which, user string) (*App, *Addon, error) {
	if m := dbAppRe.FindStringSubmatch(which); m != nil && m[1] != name {
		if err := e.CheckAccess(user, m[1], AccessMember); err != nil {
			return nil, nil, err
		}
		name, which = m[1], m[2]
	} else if m != nil {
		which = m[2]
	}
	app, err := e.App(name)
	if err != nil {
		return nil, nil, err
	}
	a, err := e.pgAddon(app, which)
	if err != nil {
		return nil, nil, err
	}
	return app, a, nil
}

// PGDatabase is a PostgreSQL add-on as an app attached to it sees it.
type PGDatabase struct {
	App   string // the app it was found through
	Addon Addon
	// ConfigVars are App's config vars that carry its URL: those of its
	// attachments on App, DATABASE_URL first.
	ConfigVars []string
}

// PGDatabases lists the PostgreSQL add-ons attached to the app (its own
// and other apps'), or the one which names (see pgDatabase), for
// `pg:info`. Returns ENOTFOUND, EFORBIDDEN or EINVALID.
func (e *Engine) PGDatabases(name, which, user string) ([]PGDatabase, error) {
	var only *Addon
	if which != "" {
		app, a, err := e.pgDatabase(name, which, user)
		if err != nil {
			return nil, err
		}
		name, only = app.Name, a
	}
	on, err := e.Attachments(name)
	if err != nil {
		return nil, err
	}
	var out []PGDatabase
	index := map[string]int{}
	for _, at := range on {
		if at.Addon.Service != pgService || (only != nil && at.Addon.ID != only.ID) {
			continue
		}
		i, ok := index[at.Addon.ID]
		if !ok {
			i = len(out)
			index[at.Addon.ID] = i
			out = append(out, PGDatabase{App: name, Addon: at.Addon})
		}
		out[i].ConfigVars = append(out[i].ConfigVars, at.ConfigVar())
	}
	for i := range out {
		slices.SortFunc(out[i].ConfigVars, databaseFirst)
	}
	slices.SortFunc(out, func(x, y PGDatabase) int { return databaseFirst(x.ConfigVars[0], y.ConfigVars[0]) })
	return out, nil
}

// databaseFirst orders config vars as the heroku CLI's pg:info does:
// DATABASE_URL, then by name.
func databaseFirst(x, y string) int {
	if d := boolInt(x != "DATABASE_URL") - boolInt(y != "DATABASE_URL"); d != 0 {
		return d
	}
	return strings.Compare(x, y)
}

// pgBackuper is the heroku-postgresql provider, for the commands that
// dump, restore and copy databases. Returns EINVALID when it cannot.
func (e *Engine) pgBackuper() (PGBackuper, error) {
	b, ok := e.AddonProviders[pgService].(PGBackuper)
	if !ok {
		return nil, Errorf(EINVALID, "This server cannot back up heroku-postgresql.")
	}
	return b, nil
}
