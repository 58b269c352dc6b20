package engine

import (
	"net/url"
	"slices"
)

// MaxDrains bounds an app's log drains.
const MaxDrains = 10

// Drain is a place an app's log lines are sent as they happen: a syslog
// server (syslog://HOST:PORT, RFC 5424 over TCP) or an HTTP endpoint
// (http(s)://…, Logplex's framing), as Heroku's log drains.
type Drain struct {
	ID    string `json:"id"`
	URL   string `json:"url"`
	Token string `json:"token"` // d.UUID, sent as Logplex-Drain-Token
}

// DrainTable is told where each app's logs go; it never reads the store.
type DrainTable interface {
	SetDrains(app string, drains []Drain)
}

// ValidateDrainURL accepts syslog://HOST:PORT and http(s)://HOST[:PORT]/…
// (with user:password@ for HTTP endpoints that want basic auth).
func ValidateDrainURL(raw string) error {
	u, err := url.Parse(raw)
	if err == nil && u.Host != "" {
		switch {
		case u.Scheme == "syslog" && u.Port() != "" && u.User == nil:
			return nil
		case u.Scheme == "http" || u.Scheme == "https":
			return nil
		}
	}
	return Errorf(EINVALID, "%q is not a drain URL: use syslog://HOST:PORT or http(s)://HOST/PATH.", raw)
}

// AddDrain sends the app's logs to url from now on. Returns EINVALID,
// ENOTFOUND or ECONFLICT.
func (e *Engine) AddDrain(name, raw string) (*Drain, error) {
	if err := ValidateDrainURL(raw); err != nil {
		return nil, err
	}
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	d := Drain{ID: newID(), URL: raw, Token: "d." + newID()}
	app, err := e.Store.UpdateApp(name, func(a *App) error {
		if slices.ContainsFunc(a.Drains, func(x Drain) bool { return x.URL == raw }) {
			return Errorf(ECONFLICT, "%s already drains to %s.", name, raw)
		}
		if len(a.Drains) >= MaxDrains {
			return Errorf(EINVALID, "An app may have at most %d drains.", MaxDrains)
		}
		a.Drains = append(a.Drains, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.setDrains(app)
	return &d, nil
}

// RemoveDrain stops draining to a URL (or drain id). Returns ENOTFOUND.
func (e *Engine) RemoveDrain(name, urlOrID string) (*Drain, error) {
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	var gone Drain
	app, err := e.Store.UpdateApp(name, func(a *App) error {
		i := slices.IndexFunc(a.Drains, func(x Drain) bool { return x.URL == urlOrID || x.ID == urlOrID })
		if i < 0 {
			return Errorf(ENOTFOUND, "%s has no drain %s: `hako drains -a %s` lists them.", name, urlOrID, name)
		}
		gone = a.Drains[i]
		a.Drains = slices.Delete(slices.Clone(a.Drains), i, i+1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.setDrains(app)
	return &gone, nil
}

func (e *Engine) setDrains(app *App) {
	e.Drains.SetDrains(app.Name, app.Drains)
}
