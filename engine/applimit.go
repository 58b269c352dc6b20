package engine

// DefaultMaxAppsPerUser is how many apps a member may own unless the
// server says otherwise (hako server --max-apps-per-user).
const DefaultMaxAppsPerUser = 20

// What counts against a member's limit of apps (Parts.MaxAppsPerUser) is
// every app they own, however it was made, since each holds a
// repository, releases, dynos and add-ons on the one host:
//
//   - apps they create (apps:create, POST /apps), hako ci's ci-… apps
//     made on a running server included: a CI run needs a free place and
//     gives it back when it destroys its app;
//   - review apps, which belong to their parent's owner: a branch push
//     (by the owner or a collaborator) that would take the owner past the
//     limit makes no review app and says why, so pushing branches cannot
//     grow a member's apps without bound;
//   - the app workshop:seed makes a student (it is theirs).
//
// Administrators have no limit, and apps made before a limit was set
// stay: only new ones are refused.

// withinAppLimit runs create, which makes one app that owner will own,
// unless owner is a member who owns MaxAppsPerUser apps already: then it
// returns EINVALID in Heroku's words and create does not run. Counting
// and creating happen under one lock, so concurrent requests cannot
// slip past the limit together.
func (e *Engine) withinAppLimit(owner string, create func() error) error {
	if e.MaxAppsPerUser <= 0 || owner == "" {
		return create()
	}
	if u, err := e.users().User(owner); err != nil || u.Admin {
		return create()
	}
	e.appLimitMu.Lock()
	defer e.appLimitMu.Unlock()
	apps, err := e.Store.Apps()
	if err != nil {
		return err
	}
	n := 0
	for _, a := range apps {
		if a.Owner == owner {
			n++
		}
	}
	if n >= e.MaxAppsPerUser {
		return Errorf(EINVALID, "You've reached the limit of %d apps for members of this server. Delete some apps or ask an administrator to raise --max-apps-per-user.", e.MaxAppsPerUser)
	}
	return create()
}
