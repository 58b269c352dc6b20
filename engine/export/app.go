package export

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// App is a release with what runs around it: the inputs of the
// manifests (Compose, Kubernetes, Nomad), which all say the same thing in
// their own words.
type App struct {
	Release Release
	// Image is the reference the manifests run, such as localhost/APP:vN
	// or the --push repository's tag.
	Image string
	// Processes are the formation's types but release, by name.
	Processes []Process
	// ReleaseCommand is the Procfile's release: entry, run once before
	// the others start; "" for none.
	ReleaseCommand string
	// Config are the config vars of the app, the add-ons' among them.
	Config map[string]string
	// Addons are the data stores the app's config vars point at.
	Addons []Addon
	// Domains are the app's custom domains (its own hostname excluded).
	Domains []string
	// Jobs are the scheduler's jobs.
	Jobs []Job
	// MemoryMB is each process's memory, the dyno's quota.
	MemoryMB int
}

// Process is a process type at its quantity.
type Process struct {
	Type     string
	Command  string
	Quantity int
}

// Web reports whether the process type takes HTTP traffic.
func (p Process) Web() bool { return p.Type == "web" }

// Job is a scheduler job: a command on a cron schedule.
type Job struct {
	Name     string
	Schedule string
	Command  string
}

// Addon is a data store an add-on gave the app, as the outside engines
// run it: its kind ("postgres", "redis") and the config var holding its
// URL.
type Addon struct {
	Kind      string
	ConfigVar string
	// Aliases are the app's other config vars carrying the same add-on's
	// URL (a second attachment of it, addons:attach --as): they point
	// at the same service.
	Aliases []string
	// Attachment, for an add-on another app owns and attached to this
	// one, is its attachment's name here (SHARED_DB), which names its
	// service; "" for the app's own.
	Attachment string
}

// AddonKind maps an add-on service to the kind of store the manifests
// run, "" for one hako cannot export.
func AddonKind(service string) string {
	switch service {
	case "heroku-postgresql":
		return "postgres"
	case "heroku-redis":
		return "redis"
	}
	return ""
}

// AddonImages are the images the manifests run add-ons with: the
// versions hako's own add-on servers are closest to.
var AddonImages = map[string]string{"postgres": "postgres:16", "redis": "redis:7"}

// AddonURL is the URL an add-on's config var takes where the manifests
// run it at host (a service name), with password for PostgreSQL.
func AddonURL(a Addon, host, db, password string) string {
	switch a.Kind {
	case "postgres":
		u := url.URL{Scheme: "postgres", User: url.UserPassword(db, password), Host: host + ":5432", Path: "/" + db}
		return u.String()
	case "redis":
		return "redis://" + host + ":6379"
	}
	return ""
}

// SortedConfig lists the config vars by name.
func (a *App) SortedConfig() []string { return slices.Sorted(maps.Keys(a.Config)) }

// ProcessName is a process type as a name the engines take (DNS labels:
// lowercase letters, digits and dashes): APP-TYPE.
func (a *App) ProcessName(typ string) string {
	return dnsLabel(a.Release.App + "-" + typ)
}

// DNSLabel is s as a DNS label, as container and task names must be.
func DNSLabel(s string) string { return dnsLabel(s) }

// dnsLabel lowercases s and turns what a DNS label refuses into dashes.
func dnsLabel(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}

// Check refuses a model the manifests cannot express.
func (a *App) Check() error {
	if a.Image == "" {
		return fmt.Errorf("no image to run")
	}
	for _, p := range a.Processes {
		if p.Quantity < 0 {
			return fmt.Errorf("process type %s has quantity %d", p.Type, p.Quantity)
		}
	}
	return nil
}
