package dashboard

import (
	"slices"
	"time"

	"hako/engine"
)

// AppView is one app as the page draws it: the router in front, its
// dynos by process type, its release, slug and add-ons.
type AppView struct {
	Name          string                  `json:"name"`
	Owner         string                  `json:"owner"`
	Collaborators []string                `json:"collaborators"`
	URL           string                  `json:"url"`
	Maintenance   bool                    `json:"maintenance"`
	Release       int                     `json:"release"`
	Slug          *SlugView               `json:"slug"`
	Formation     []engine.FormationEntry `json:"formation"`
	Dynos         []DynoView              `json:"dynos"`
	Addons        []AddonView             `json:"addons"`
	Releases      []ReleaseView           `json:"releases"`
	ConfigKeys    []string                `json:"config_keys"`
}

// SlugView is the current release's slug.
type SlugView struct {
	ID        string `json:"id"`
	Size      int64  `json:"size"`
	Buildpack string `json:"buildpack"`
	Commit    string `json:"commit"`
}

// DynoView is one dyno; State is starting, up, crashed or another of
// the supervisor's.
type DynoView struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	State   string    `json:"state"`
	Release int       `json:"release"`
	Since   time.Time `json:"since"`
	// Staged dynos started for a release or scale still under way:
	// the router sends them nothing yet.
	Staged bool `json:"staged,omitempty"`
}

// AddonView is an add-on attached to the app: one of its own, or
// another app's attached to it (addons:attach), once per attachment.
type AddonView struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	Plan    string `json:"plan"`
	As      string `json:"as"` // the attachment's name on this app
	// App is the app that owns the add-on. Whoever sees this app may see
	// its name, as Heroku shows an attached add-on's billing app; the
	// apps an add-on of this app is attached to are not shown, since a
	// viewer of this one may have no access to them.
	App string `json:"app"`
}

// ReleaseView is one release of the history.
type ReleaseView struct {
	Version     int       `json:"version"`
	Description string    `json:"description"`
	User        string    `json:"user"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	Current     bool      `json:"current"`
}

// maxReleases is how many releases the history shows.
const maxReleases = 15

// viewOf reads app's view from the engine.
func viewOf(e *engine.Engine, name string, url func(string) string) (*AppView, *engine.App, error) {
	a, err := e.App(name)
	if err != nil {
		return nil, nil, err
	}
	v := &AppView{Name: a.Name, Owner: a.Owner, Collaborators: append([]string{}, a.Collaborators...), Maintenance: a.Maintenance,
		Release: a.CurrentRelease, Dynos: []DynoView{}, Addons: []AddonView{}, Releases: []ReleaseView{}, ConfigKeys: []string{}}
	if url != nil {
		v.URL = url(a.Name)
	}
	if rel, err := e.Release(a.Name, a.CurrentRelease); err == nil {
		for k := range rel.Config {
			v.ConfigKeys = append(v.ConfigKeys, k)
		}
		slices.Sort(v.ConfigKeys)
		if rel.SlugID != "" {
			if s, err := e.Slug(rel.SlugID); err == nil {
				v.Slug = &SlugView{ID: s.ID, Size: s.Size, Buildpack: s.Buildpack, Commit: s.Commit}
			}
		}
	}
	if f, err := e.Formation(a.Name); err == nil {
		v.Formation = f
	}
	if v.Formation == nil {
		v.Formation = []engine.FormationEntry{}
	}
	for _, d := range e.Dynos(a.Name) {
		v.Dynos = append(v.Dynos, DynoView{Name: d.Name, Type: d.Type, State: d.State, Release: d.Release, Since: d.Since})
	}
	for _, d := range e.StagedDynos(a.Name) {
		v.Dynos = append(v.Dynos, DynoView{Name: d.Name, Type: d.Type, State: d.State, Release: d.Release, Since: d.Since, Staged: true})
	}
	slices.SortStableFunc(v.Dynos, func(x, y DynoView) int {
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	})
	if on, err := e.Attachments(a.Name); err == nil {
		for _, at := range on {
			v.Addons = append(v.Addons, AddonView{Name: at.Addon.Name, Service: at.Addon.Service, Plan: at.Addon.Plan, As: at.Name, App: at.Addon.App})
		}
	}
	if rels, err := e.Releases(a.Name); err == nil {
		for _, r := range rels[:min(len(rels), maxReleases)] {
			v.Releases = append(v.Releases, ReleaseView{Version: r.Version, Description: r.Description, User: r.User,
				Status: r.Status, CreatedAt: r.CreatedAt, Current: r.Version == a.CurrentRelease})
		}
	}
	return v, a, nil
}
