package engine

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// MaxDomains bounds an app's custom domains.
const MaxDomains = 100

var hostnameRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// normalizeDomain lowercases a hostname and drops a trailing dot, as
// hostnames compare.
func normalizeDomain(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// ipLiteral reports whether host is an IP address, v4 or v6, bracketed
// or not, or looks like one to a resolver: a last label of digits only
// (127.1, 10.0.0.010) is never a top-level domain.
func ipLiteral(host string) bool {
	if _, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		return true
	}
	last := host[strings.LastIndexByte(host, '.')+1:]
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// AddDomain routes a custom hostname (www.example.test) to the app, as
// `heroku domains:add` does. Returns EINVALID, ENOTFOUND or ECONFLICT when
// another app has it.
func (e *Engine) AddDomain(name, host string) ([]string, error) {
	host = normalizeDomain(host)
	if ipLiteral(host) {
		return nil, Errorf(EINVALID, "%s is an IP address, not a hostname: requests to the server's bare address must not reach one app. Give a hostname such as www.example.test.", host)
	}
	if !hostnameRe.MatchString(host) || len(host) > 253 {
		return nil, Errorf(EINVALID, "%q is not a hostname: give a name with at least one dot, such as www.example.test.", host)
	}
	if e.Domain != "" && (host == e.Domain || strings.HasSuffix(host, "."+e.Domain)) {
		return nil, Errorf(EINVALID, "%s is under %s, where hako names apps itself (APP.%s): choose another hostname.", host, e.Domain, e.Domain)
	}
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	// Uniqueness spans apps: one change at a time.
	e.domainMu.Lock()
	defer e.domainMu.Unlock()
	apps, err := e.Store.Apps()
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		if slices.Contains(a.Domains, host) {
			if a.Name == name {
				return nil, Errorf(ECONFLICT, "%s is already a domain of %s.", host, name)
			}
			return nil, Errorf(ECONFLICT, "%s is already a domain of another app.", host)
		}
	}
	return e.updateDomains(name, func(d []string) ([]string, error) {
		if len(d) >= MaxDomains {
			return nil, Errorf(EINVALID, "An app may have at most %d domains.", MaxDomains)
		}
		return append(d, host), nil
	})
}

// RemoveDomain stops routing a custom hostname to the app; an empty host
// removes them all. Returns EINVALID or ENOTFOUND.
func (e *Engine) RemoveDomain(name, host string) ([]string, error) {
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	host = normalizeDomain(host)
	e.domainMu.Lock()
	defer e.domainMu.Unlock()
	return e.updateDomains(name, func(d []string) ([]string, error) {
		if host == "" {
			return nil, nil
		}
		i := slices.Index(d, host)
		if i < 0 {
			return nil, Errorf(ENOTFOUND, "%s is not a domain of %s: `hako domains -a %s` lists them.", host, name, name)
		}
		return slices.Delete(d, i, i+1), nil
	})
}

func (e *Engine) updateDomains(name string, change func([]string) ([]string, error)) ([]string, error) {
	app, err := e.Store.UpdateApp(name, func(a *App) error {
		d, err := change(slices.Clone(a.Domains))
		a.Domains = d
		// Each hostname keeps when it was added, as Heroku's domains show.
		added := map[string]time.Time{}
		for _, h := range d {
			if t, ok := a.DomainsAdded[h]; ok {
				added[h] = t
			} else {
				added[h] = time.Now().UTC()
			}
		}
		a.DomainsAdded = added
		return err
	})
	if err != nil {
		return nil, err
	}
	e.Routes.SetDomains(name, app.Domains)
	return app.Domains, nil
}

// SetMaintenance turns the app's maintenance mode on or off: while on,
// the router answers its requests with H80 and its dynos keep running.
// Returns ENOTFOUND.
func (e *Engine) SetMaintenance(name string, on bool) (*App, error) {
	if _, err := e.App(name); err != nil {
		return nil, err
	}
	app, err := e.Store.UpdateApp(name, func(a *App) error { a.Maintenance = on; return nil })
	if err != nil {
		return nil, err
	}
	e.Routes.SetMaintenance(name, on)
	return app, nil
}
