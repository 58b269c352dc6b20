package engine

import (
	"slices"
	"strings"
)

// Access levels an operation on an app needs.
const (
	// AccessMember is what every operation on an app needs: its owner, a
	// collaborator or an administrator.
	AccessMember = iota
	// AccessOwner is what destroying an app and choosing its collaborators
	// need: its owner or an administrator.
	AccessOwner
)

// CheckAccess is the one authorization check of hako: the API, SSH
// commands and git push and clone all ask it whether user (an email) may
// act on app at the level given. Administrators may act on every app;
// members on the apps they own and, short of AccessOwner, those they
// collaborate on. Returns ENOTFOUND for a missing app (to an
// administrator, or to anyone when it does not exist), EFORBIDDEN
// otherwise, in Heroku's words.
func (e *Engine) CheckAccess(user, app string, level int) error {
	u, err := e.users().User(user)
	if err != nil {
		return forbidden(app)
	}
	a, err := e.App(app)
	if err != nil {
		return err
	}
	if !CanAccess(u, a, level) {
		return forbidden(app)
	}
	return nil
}

// CanAccess reports whether u may act on a at level: CheckAccess for an
// app already read, e.g. to filter a list.
func CanAccess(u *User, a *App, level int) bool {
	switch {
	case u == nil || a == nil:
		return false
	case u.Admin:
		return true
	case a.Owner == u.Email:
		return true
	case level == AccessMember:
		return slices.Contains(a.Collaborators, u.Email)
	}
	return false
}

func forbidden(app string) error {
	return Errorf(EFORBIDDEN, "You do not have access to the app %s.", app)
}

// Collaborator is one person with access to an app: its owner, or one it
// is shared with.
type Collaborator struct {
	Email string
	Owner bool
}

// Collaborators lists the app's owner, then who it is shared with.
// Returns ENOTFOUND.
func (e *Engine) Collaborators(app string) ([]Collaborator, error) {
	a, err := e.App(app)
	if err != nil {
		return nil, err
	}
	out := []Collaborator{{Email: a.Owner, Owner: true}}
	for _, c := range a.Collaborators {
		out = append(out, Collaborator{Email: c})
	}
	return out, nil
}

// AddCollaborator shares the app with the user of that email. Returns
// ENOTFOUND (no such app or user) or ECONFLICT (shared already, or the
// owner).
func (e *Engine) AddCollaborator(app, email, by string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	if _, err := e.users().User(email); err != nil {
		return err
	}
	_, err := e.Store.UpdateApp(app, func(a *App) error {
		if a.Owner == email || slices.Contains(a.Collaborators, email) {
			return Errorf(ECONFLICT, "%s already has access to %s.", email, app)
		}
		a.Collaborators = sortedEmails(append(a.Collaborators, email))
		return nil
	})
	if err != nil {
		return err
	}
	e.log(app, "api", "Add collaborator %s by user %s", email, by)
	e.shareReviewApps(app, email, true)
	return nil
}

// RemoveCollaborator stops sharing the app with email. Returns ENOTFOUND
// when it is not shared with them, EINVALID for the owner.
func (e *Engine) RemoveCollaborator(app, email, by string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	_, err := e.Store.UpdateApp(app, func(a *App) error {
		if a.Owner == email {
			return Errorf(EINVALID, "%s owns %s: the owner cannot be removed.", email, app)
		}
		i := slices.Index(a.Collaborators, email)
		if i < 0 {
			return Errorf(ENOTFOUND, "%s is not a collaborator on %s.", email, app)
		}
		a.Collaborators = slices.Delete(a.Collaborators, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	e.log(app, "api", "Remove collaborator %s by user %s", email, by)
	e.shareReviewApps(app, email, false)
	return nil
}

// shareReviewApps gives the parent's review apps the parent's change of
// collaborators: they hold its config vars and a copy of its database,
// so who is taken off the parent must lose them too, and who is added
// sees them. A review app's own collaborators are otherwise its own.
func (e *Engine) shareReviewApps(parent, email string, add bool) {
	rs, err := e.reviews()
	if err != nil {
		return
	}
	list, err := rs.ReviewApps(parent)
	if err != nil {
		return
	}
	for _, ra := range list {
		_, _ = e.Store.UpdateApp(ra.Name, func(a *App) error {
			i := slices.Index(a.Collaborators, email)
			switch {
			case add && i < 0 && a.Owner != email:
				a.Collaborators = sortedEmails(append(a.Collaborators, email))
			case !add && i >= 0:
				a.Collaborators = slices.Delete(a.Collaborators, i, i+1)
			}
			return nil
		})
	}
}
