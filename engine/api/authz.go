package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"hako/engine"
)

// Authorization lives here, in one place: every route is registered
// through routes, which wraps its handler in the check its pattern calls
// for, so a new route is guarded without its author doing anything.
//
//   - A route under /apps/{app} needs access to that app
//     (engine.CheckAccess): its owner, a collaborator, or an
//     administrator; the patterns in ownerRoutes need the owner or an
//     administrator.
//   - Any other route needs a rule in routeRules. A route without one is
//     for administrators only, and TestRouteRules fails until it has one.

// rule says who may call a route that names no app in its path.
type rule struct {
	// anyUser lets every authenticated user in: the handler shows each
	// only what is theirs (GET /apps lists the apps they may see).
	anyUser bool
	// app, when set, finds the app the request acts on, whose access is
	// then checked as for /apps/{app}.
	app func(r *http.Request) string
	// attached widens app's check to the databases attached to the app:
	// one who has access to another app a database is attached to may
	// act on that database's transfers under this app's name, as on
	// Heroku (engine.BackupScope); the handlers show only those.
	attached bool
}

var (
	anyUser   = rule{anyUser: true}
	adminOnly = rule{}
	dataApp   = rule{app: func(r *http.Request) string { return r.PathValue("app") }, attached: true}
)

// routeRules are the routes outside /apps/{app}, each with its rule.
var routeRules = map[string]rule{
	"/":                                       anyUser, // the "No such API path" answer
	"GET /account":                            anyUser,
	"GET /account/keys":                       anyUser,
	"POST /account/keys":                      anyUser,
	"DELETE /account/keys/{key}":              anyUser,
	"GET /oauth/authorizations":               anyUser,
	"POST /oauth/authorizations":              anyUser,
	"DELETE /oauth/authorizations/{id}":       anyUser,
	"GET /apps":                               anyUser,
	"POST /apps":                              anyUser,
	"GET /users/{user}/apps":                  anyUser,
	"GET /addon-attachments":                  anyUser, // the handlers show only attachments of apps the caller may see
	"GET /addon-attachments/{attachment}":     anyUser,
	"POST /addon-attachments":                 anyUser, // and check both the add-on's app and the target
	"DELETE /addon-attachments/{attachment}":  anyUser, // and check the attachment's app
	"POST /actions/addons/resolve":            anyUser, // the handler checks the app it names
	"GET /addons/{addon}":                     anyUser, // the handlers find only add-ons of apps the caller may see
	"GET /addons/{addon}/addon-attachments":   anyUser,
	"POST /actions/addon-attachments/resolve": anyUser, // and check the app the body names
	"GET /addon-services":                     anyUser,
	"GET /addon-services/{service}":           anyUser,
	"GET /addon-services/{service}/plans":     anyUser,
	"GET /account/features":                   anyUser,
	"GET /stacks":                             anyUser,
	"GET /regions":                            anyUser,
	"POST /sources":                           anyUser, // an upload URL, tied to no app
	// The Data API's handlers find only add-ons of apps the caller may see.
	"GET /client/v11/databases/{addon}":                     anyUser,
	"GET /postgres/v0/databases/{addon}/credentials":        anyUser,
	"GET /postgres/v0/databases/{addon}/credentials/{name}": anyUser,
	"GET /redis/v0/databases/{addon}":                       anyUser,
	// And rotate one through an app of the caller's it is attached to.
	"POST /postgres/v0/databases/{addon}/credentials/{name}/credentials_rotation": anyUser,
	"POST /postgres/v0/databases/{addon}/credentials_rotation":                    anyUser,
	"POST /redis/v0/databases/{addon}/credentials_rotation":                       anyUser,
	// The Data API's transfers are an app's backups: access to that app,
	// as for /apps/{app}, or to another app one of its databases is
	// attached to, for that database's.
	"GET /client/v11/apps/{app}/transfers":                                dataApp,
	"GET /client/v11/apps/{app}/transfers/{transfer}":                     dataApp,
	"DELETE /client/v11/apps/{app}/transfers/{transfer}":                  dataApp,
	"POST /client/v11/apps/{app}/transfers/{transfer}/actions/public-url": dataApp,
	"POST /client/v11/apps/{app}/transfers/{transfer}/actions/cancel":     dataApp,
	"POST /client/v11/databases/{addon}/backups":                          anyUser, // the handlers find only add-ons the caller may see,
	"POST /client/v11/databases/{addon}/restores":                         anyUser, // and act through an app of theirs it is attached to
	"POST /client/v11/databases/{addon}/transfers":                        anyUser, // (pg:copy: the source checked too, engine.CopyDatabase)
	"GET /client/v11/databases/{addon}/transfer-schedules":                anyUser,
	"POST /client/v11/databases/{addon}/transfer-schedules":               anyUser,
	"DELETE /client/v11/databases/{addon}/transfer-schedules/{schedule}":  anyUser,
	"GET /status": adminOnly,
	// Pipelines: the handlers check the pipeline or app each acts on
	// (engine.CheckPipelineAccess, engine.CheckAccess) and list only what
	// the caller may see.
	"GET /pipelines":                                  anyUser,
	"POST /pipelines":                                 anyUser,
	"GET /pipelines/{pipeline}":                       anyUser,
	"DELETE /pipelines/{pipeline}":                    anyUser,
	"GET /pipelines/{pipeline}/pipeline-couplings":    anyUser,
	"GET /pipeline-couplings":                         anyUser,
	"GET /users/{user}/pipeline-couplings":            anyUser,
	"POST /pipeline-couplings":                        anyUser,
	"GET /pipeline-couplings/{coupling}":              anyUser,
	"PATCH /pipeline-couplings/{coupling}":            anyUser,
	"DELETE /pipeline-couplings/{coupling}":           anyUser,
	"POST /pipeline-promotions":                       anyUser,
	"GET /pipeline-promotions/{id}":                   anyUser,
	"GET /pipeline-promotions/{id}/promotion-targets": anyUser,
	"GET /users/{user}":                               anyUser, // the caller's own account; another's to administrators
	"POST /filters/apps":                              anyUser, // the handler lists only apps the caller may see
	"GET /users":                                      adminOnly,
	"POST /users":                                     adminOnly,
	"DELETE /users/{user}":                            adminOnly,
	"POST /workshop/seed":                             adminOnly,
	"POST /workshop/reset":                            adminOnly,
}

// ownerRoutes are the app routes only the app's owner (or an
// administrator) may call: destroying it and choosing who shares it.
var ownerRoutes = map[string]bool{
	"DELETE /apps/{app}":                       true,
	"POST /apps/{app}/collaborators":           true,
	"DELETE /apps/{app}/collaborators/{email}": true,
}

// appRoute reports whether pattern acts on the app named in its path.
func appRoute(pattern string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	return path == "/apps/{app}" || strings.HasPrefix(path, "/apps/{app}/")
}

// routes is the API's mux: it records each pattern (for the test that
// every route has a rule) and guards each handler.
type routes struct {
	*http.ServeMux
	s        *Server
	patterns []string
}

// HandleFunc registers h behind the authorization its pattern calls for.
func (m *routes) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// Handle registers h behind the authorization its pattern calls for.
func (m *routes) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, m.s.guard(pattern, h))
}

// guard wraps h in the check pattern's rule calls for.
func (s *Server) guard(pattern string, h http.Handler) http.Handler {
	level := engine.AccessMember
	if ownerRoutes[pattern] {
		level = engine.AccessOwner
	}
	appOf := func(r *http.Request) string { return r.PathValue("app") }
	ru, ok := routeRules[pattern]
	switch {
	case appRoute(pattern):
	case ok && ru.app != nil && ru.attached:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, _, err := s.Engine.BackupScope(ru.app(r), s.by(r)); err != nil {
				s.fail(w, err)
				return
			}
			h.ServeHTTP(w, r)
		})
	case ok && ru.app != nil:
		appOf = ru.app
	case ok && ru.anyUser:
		return h
	default: // adminOnly, or a route without a rule
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u := userOf(r); u == nil || !u.Admin {
				s.fail(w, engine.Errorf(engine.EFORBIDDEN, "Only an administrator may do that."))
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Engine.CheckAccess(s.by(r), appOf(r), level); err != nil {
			s.fail(w, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type userCtxKey struct{}

// userOf returns who made the request, as auth found them.
func userOf(r *http.Request) *engine.User {
	u, _ := r.Context().Value(userCtxKey{}).(*engine.User)
	return u
}

// by names who made the request, for releases and log lines.
func (s *Server) by(r *http.Request) string {
	if u := userOf(r); u != nil {
		return u.Email
	}
	return ""
}

// canSee reports whether the request's user may see app a: lists show
// only those.
func canSee(r *http.Request, a *engine.App) bool {
	return engine.CanAccess(userOf(r), a, engine.AccessMember)
}

// requestToken is the token a request carries: a bearer token, or the
// password of Basic authentication.
func requestToken(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		_, tok, ok = r.BasicAuth()
	}
	return tok, ok
}

// stillAllowed returns a check, polled while a log tail streams, that
// what let the request read app's log still holds: the app is the same
// one (not a new app made since under its name by someone else), the
// request's token is not revoked, its user not removed nor taken off the
// app's collaborators. A tail is long-lived: checked only when it
// starts, it would outlive all of these.
func (s *Server) stillAllowed(r *http.Request, app *engine.App) func() bool {
	tok, _ := requestToken(r)
	email, name, id := s.by(r), app.Name, app.ID
	admin := s.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.Token)) == 1
	return func() bool {
		if a, err := s.Engine.App(name); err != nil || a.ID != id {
			return false
		}
		if !admin {
			if u, err := s.Engine.Authenticate(tok); err != nil || u.Email != email {
				return false
			}
		}
		return s.Engine.CheckAccess(email, name, engine.AccessMember) == nil
	}
}

// auth finds the user a request's token belongs to: the administrator's
// token from HAKO_HOME/api-token, or a user's (engine.Authenticate). The
// token comes as a bearer token, or as the password of Basic
// authentication, which is how git and heroku-go's Username/Password send
// it.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := requestToken(r)
		var u *engine.User
		var err error
		switch {
		case !ok || tok == "":
			err = engine.Errorf(engine.EUNAUTHORIZED, "Invalid credentials provided: use the token the server wrote to HAKO_HOME, one from `hako auth:tokens:create`, or set HAKO_API_TOKEN.")
		case s.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.Token)) == 1:
			u, err = s.Engine.User(engine.AdminEmail)
		default:
			u, err = s.Engine.Authenticate(tok)
		}
		if err != nil {
			if engine.ErrorCode(err) != engine.EUNAUTHORIZED {
				s.logf("api: find the administrator: %v", err)
				err = engine.Errorf(engine.EUNAUTHORIZED, "Invalid credentials provided.")
			}
			s.fail(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userCtxKey{}, u)))
	})
}
