package router

// CustomDomain reports whether host (lowercase, no port) is a custom
// domain of an app (domains:add), for the HTTPS side to get a
// certificate minted for it, as Heroku's ACM gives one.
func (rt *Router) CustomDomain(host string) bool {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	_, ok := rt.hosts[host]
	return ok
}
