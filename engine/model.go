package engine

import (
	"encoding/json"
	"time"
)

// App is a deployable application: a name, a git repository and a history
// of releases. Releases, config and formation live in their own records so
// that each can change in one store transaction.
type App struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Stack     string    `json:"stack"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// CurrentRelease is the version of the release that serves; 0 before v1.
	CurrentRelease int `json:"current_release"`
	// Formation is the quantity of each process type the app should run.
	Formation map[string]int `json:"formation,omitempty"`
	// Buildpacks, when set, are used in order instead of detection.
	Buildpacks []string `json:"buildpacks,omitempty"`
	// Domains are custom hostnames routed to the app besides APP.DOMAIN.
	Domains []string `json:"domains,omitempty"`
	// DomainsAdded says when each of Domains was added (none for those
	// of older stores: the app's creation stands in).
	DomainsAdded map[string]time.Time `json:"domains_added,omitempty"`
	// Addons are the add-ons attached to the app.
	Addons []Addon `json:"addons,omitempty"`
	// Maintenance makes the router answer every request with H80.
	Maintenance bool `json:"maintenance,omitempty"`
	// Drains receive the app's log lines as they happen.
	Drains []Drain `json:"drains,omitempty"`
	// UID is the host uid (and gid) the app's builds and dynos run as when
	// they are isolated: its own for the app's whole life (see
	// FirstAppUID). The store assigns it; nothing else changes it.
	UID int `json:"uid,omitempty"`
	// Owner is the email of the user who created the app; Collaborators
	// are those it is shared with (see CheckAccess).
	Owner         string   `json:"owner,omitempty"`
	Collaborators []string `json:"collaborators,omitempty"`
}

// Release statuses, as Heroku names them.
const (
	ReleasePending   = "pending"
	ReleaseSucceeded = "succeeded"
	ReleaseFailed    = "failed"
)

// Release is an immutable record of what ran at one version: a slug and the
// config vars, so that a rollback restores both.
type Release struct {
	// ID is the release's UUID, by which Heroku's API names it beside
	// its version. The store gives one to every release, old ones too.
	ID          string            `json:"id,omitempty"`
	App         string            `json:"app"`
	Version     int               `json:"version"`
	Description string            `json:"description"`
	User        string            `json:"user"`
	CreatedAt   time.Time         `json:"created_at"`
	SlugID      string            `json:"slug_id,omitempty"`
	Config      map[string]string `json:"config,omitempty"`
	Status      string            `json:"status"`
	// UpdatedAt is when the status last changed (zero: CreatedAt).
	UpdatedAt time.Time `json:"updated_at,omitempty"`
	// BuildID names the build that made the release, if one did: a
	// start settles that build's record with the release (see
	// endInterruptedBuilds).
	BuildID string `json:"build_id,omitempty"`
}

// Slug is the built app: a tar.gz named by its sha256 (ID), with the
// metadata needed to run it.
type Slug struct {
	ID           string            `json:"id"`
	App          string            `json:"app"`
	Size         int64             `json:"size"`
	Checksum     string            `json:"checksum"` // "SHA256:<hex>", as Heroku shows it
	Commit       string            `json:"commit"`
	Buildpack    string            `json:"buildpack"`
	ProcessTypes map[string]string `json:"process_types"`
	Stack        string            `json:"stack"`
	CreatedAt    time.Time         `json:"created_at"`
	// AppJSON is the app.json the slug was built with (compacted), kept
	// whole; every release of the slug follows it.
	AppJSON json.RawMessage `json:"app_json,omitempty"`
}

// Key is a registered SSH public key; only holders of one may push or run
// commands over SSH.
type Key struct {
	ID          string    `json:"id"`
	Fingerprint string    `json:"fingerprint"` // "SHA256:…", as ssh-keygen -l prints it
	PublicKey   string    `json:"public_key"`  // authorized_keys form
	Comment     string    `json:"comment"`
	CreatedAt   time.Time `json:"created_at"`
	// Email names the user the key belongs to: whoever holds it acts as
	// them.
	Email string `json:"email"`
}

// Stack is the name hako gives its build and run environment. It matches
// Heroku's current stack so that buildpacks that check $STACK accept it.
const Stack = "heroku-24"
