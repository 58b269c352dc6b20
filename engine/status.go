package engine

import (
	"io/fs"
	"path/filepath"
	"sort"
	"time"
)

// Status is the server at a glance, for `hako status`: what runs, and
// where the disk goes.
type Status struct {
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	// UptimeSeconds is how long the server has run.
	UptimeSeconds int64  `json:"uptime_seconds"`
	Isolation     string `json:"isolation"`
	AppsCount     int    `json:"apps_count"`
	// Dynos counts every app's dynos, one-offs included, by state.
	Dynos map[string]int `json:"dynos"`
	// Home is HAKO_HOME and HomeBytes what it takes on disk in total.
	Home      string        `json:"home"`
	HomeBytes int64         `json:"home_bytes"`
	Apps      []AppDiskUse  `json:"apps"`
	Addons    []AddonServer `json:"addon_servers"`
}

// AppDiskUse is what one app takes on disk, in bytes.
type AppDiskUse struct {
	Name string `json:"name"`
	// Repo is its bare git repository.
	Repo int64 `json:"repo_bytes"`
	// Slugs are the slug archives its releases refer to.
	Slugs int64 `json:"slugs_bytes"`
	// Unpacked are its slugs unpacked for dynos (RUN/APP).
	Unpacked int64 `json:"unpacked_bytes"`
	// Cache is its build cache.
	Cache int64 `json:"cache_bytes"`
	// Builds is the output its kept builds left (BUILDS/APP_ID).
	Builds int64 `json:"builds_bytes"`
	Total  int64 `json:"total_bytes"`
}

// AddonServer is a server hako runs for add-ons.
type AddonServer struct {
	Service string `json:"service"`
	// Name is the add-on a server belongs to, or "" for a server shared
	// by every add-on of its service (PostgreSQL's cluster).
	Name  string `json:"name,omitempty"`
	State string `json:"state"` // running or stopped
	// DataBytes is what its data directory takes on disk.
	DataBytes int64 `json:"data_bytes"`
}

// AddonServerLister is implemented by add-on providers that run servers
// of their own, so that Status can list them. resources are every
// resource the store holds for the service.
type AddonServerLister interface {
	Servers(resources []map[string]string) []AddonServer
}

// Status reports the server's state. Sizes are measured now, so it reads
// the whole of HAKO_HOME: a status command, not a health probe.
func (e *Engine) Status() (*Status, error) {
	apps, err := e.Store.Apps()
	if err != nil {
		return nil, err
	}
	st := &Status{
		Version: e.Version, StartedAt: e.Started, Isolation: e.Supervisor.Isolation(),
		AppsCount: len(apps), Dynos: map[string]int{}, Home: e.Paths.Home,
		Apps: []AppDiskUse{}, Addons: []AddonServer{},
	}
	if !e.Started.IsZero() {
		st.UptimeSeconds = int64(time.Since(e.Started).Seconds())
	}
	byService := map[string][]map[string]string{}
	for _, a := range apps {
		for _, d := range e.Dynos(a.Name) {
			st.Dynos[d.State]++
		}
		use := AppDiskUse{
			Name:     a.Name,
			Repo:     DiskUse(e.Paths.AppRepo(a.Name)),
			Unpacked: DiskUse(e.Paths.AppRun(a.Name)),
			Cache:    DiskUse(e.Paths.AppCache(a.Name)),
			Builds:   DiskUse(e.Paths.AppBuilds(a.ID)),
		}
		if use.Slugs, err = e.slugBytes(a.Name); err != nil {
			return nil, err
		}
		use.Total = use.Repo + use.Slugs + use.Unpacked + use.Cache + use.Builds
		st.Apps = append(st.Apps, use)
		for _, ad := range a.Addons {
			byService[ad.Service] = append(byService[ad.Service], ad.Resource)
		}
	}
	if e.Paths.Home != "" {
		st.HomeBytes = DiskUse(e.Paths.Home)
	}
	for service, p := range e.AddonProviders {
		if l, ok := p.(AddonServerLister); ok {
			st.Addons = append(st.Addons, l.Servers(byService[service])...)
		}
	}
	sort.Slice(st.Addons, func(i, j int) bool {
		a, b := st.Addons[i], st.Addons[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Name < b.Name
	})
	return st, nil
}

// slugBytes sums the sizes of the distinct slugs of the app's releases.
func (e *Engine) slugBytes(app string) (int64, error) {
	rels, err := e.Store.Releases(app)
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	var total int64
	for _, r := range rels {
		if r.SlugID == "" || seen[r.SlugID] {
			continue
		}
		seen[r.SlugID] = true
		s, err := e.Store.Slug(r.SlugID)
		if ErrorCode(err) == ENOTFOUND {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += s.Size
	}
	return total, nil
}

// DiskUse is what the tree at path takes on disk, in bytes, as du counts
// it: allocated blocks, each hard-linked file once, symbolic links not
// followed. A missing path takes nothing; unreadable parts (or parts
// removed while it walks) are skipped.
func DiskUse(path string) int64 {
	var total int64
	seen := map[fileID]bool{}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		n, id, linked := allocated(fi)
		if linked {
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		total += n
		return nil
	})
	return total
}
