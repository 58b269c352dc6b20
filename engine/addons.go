package engine

import (
	"context"
	"time"
)

// Addon is a resource attached to an app (a database, a cache), in the
// shape of Heroku's add-ons: its service and plan, the name it goes by,
// and the config var that carries its URL to the app.
type Addon struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`    // postgresql-misty-04211
	App     string    `json:"app"`     // the app it is attached to
	Service string    `json:"service"` // heroku-postgresql
	Plan    string    `json:"plan"`    // essential-0
	As      string    `json:"as"`      // DATABASE: the config var is DATABASE_URL
	State   string    `json:"state"`   // provisioned
	Created time.Time `json:"created_at"`
	// Resource is what the provider made, for it to find again
	// (database and role names, a port); the engine does not read it.
	Resource map[string]string `json:"resource,omitempty"`
	// Attachments are the add-on's further attachments (`addons:attach`):
	// to other apps, or to its own app under another name. Its own
	// attachment, to App as As, is not among them: it lives as long as
	// the add-on, so that an add-on always has an app that owns it, and
	// stores of one attachment per add-on read unchanged.
	Attachments []Attachment `json:"attachments,omitempty"`
	// BackupSchedule, for a database, is when it is backed up every day
	// (pg:backups:schedule); nil for never.
	BackupSchedule *PGSchedule `json:"backup_schedule,omitempty"`
	// PendingCredentials is a credential rotation under way (see
	// rotate); nil when none is.
	PendingCredentials *PendingCredentials `json:"pending_credentials,omitempty"`
	// PGTransfers, for a database, are its restores, copies and failed
	// captures (pgrecords.go); its kept backups are its provider's.
	PGTransfers []PGTransfer `json:"pg_transfers,omitempty"`
}

// ConfigVar is the config var that carries the add-on's URL.
func (a *Addon) ConfigVar() string { return a.As + "_URL" }

// Own is the add-on's own attachment, to its owning app. It has the
// add-on's id, as it had when an add-on had no other.
func (a *Addon) Own() Attachment {
	return Attachment{ID: a.ID, App: a.App, Name: a.As, Created: a.Created}
}

// AllAttachments lists the add-on's own attachment, then the others.
func (a *Addon) AllAttachments() []Attachment {
	return append([]Attachment{a.Own()}, a.Attachments...)
}

// Attachment gives an app an add-on under a name: the app's config var
// NAME_URL carries the add-on's URL, and the app's dynos reach it.
type Attachment struct {
	ID      string    `json:"id"`
	App     string    `json:"app"`  // the app the add-on is attached to
	Name    string    `json:"name"` // SECOND: the config var is SECOND_URL
	Created time.Time `json:"created_at"`
}

// ConfigVar is the config var that carries the add-on's URL to the app.
func (a Attachment) ConfigVar() string { return a.Name + "_URL" }

// AddonAttachment is an attachment with the add-on it attaches, for
// listings that cross apps.
type AddonAttachment struct {
	Attachment
	Addon Addon
}

// Owned reports whether this is the add-on's own attachment, which only
// destroying the add-on removes.
func (a AddonAttachment) Owned() bool { return a.ID == a.Addon.ID }

// AddonProvider makes and removes the resources of one add-on service on
// this machine, offline: heroku-postgresql on a local PostgreSQL server,
// heroku-redis on local Redis servers.
type AddonProvider interface {
	// Service is the name users give (heroku-postgresql).
	Service() string
	// Attachment is the default attachment name (DATABASE, REDIS).
	Attachment() string
	// Plans lists the plans accepted; the first is the default.
	Plans() []string
	// Start brings up what the service's existing resources need (its
	// servers), for a server start. It is called before any dyno starts,
	// with every resource the store holds for the service, each with the
	// add-on's plan under the key "plan", so that the plan's limits hold
	// for add-ons made before they existed.
	Start(ctx context.Context, resources []map[string]string) error
	// Provision makes a new resource named name on plan (one of Plans,
	// "" for the first) and returns the URL the app connects with and the
	// record to keep. Returns EINVALID when the service cannot run here
	// (its software is missing), saying what to install.
	Provision(ctx context.Context, name, plan string) (url string, resource map[string]string, err error)
	// Deprovision removes a resource and its data for good.
	Deprovision(ctx context.Context, resource map[string]string) error
	// Stop shuts the service's servers down cleanly, for a server exit.
	Stop()
}

// AddonReporter is an AddonProvider that can tell how much of its plan an
// add-on uses (a database's size against the plan's storage), for
// `addons:info`.
type AddonReporter interface {
	Usage(ctx context.Context, resource map[string]string, plan string) ([]UsageField, error)
}

// UsageField is one line of an add-on's usage: "Data Size", "7.6 MB of
// 1 GB (in compliance)".
type UsageField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}
