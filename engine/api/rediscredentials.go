package api

import (
	"net/http"
)

// Heroku's redis:credentials: the URL of an app's Redis, and with
// --reset a new password for it. Through hako's own routes, for `hako
// redis:credentials`, and through the Data API's, which the heroku CLI
// calls after finding the add-on among the app's.

func (s *Server) redisRoutes(mux *routes) {
	mux.HandleFunc("GET /apps/{app}/redis-credentials", s.redisCredentials)
	mux.HandleFunc("POST /apps/{app}/redis-actions/reset-credentials", s.resetRedisCredentials)
	mux.HandleFunc("POST /redis/v0/databases/{addon}/credentials_rotation", s.dataResetRedisCredentials)
}

// RedisCredentialsView is an app's Redis add-on and the URL the app has
// for it (hako's own resource, for `hako redis:credentials`).
type RedisCredentialsView struct {
	Addon AddonRef `json:"addon"`
	URL   string   `json:"url"`
}

// redisCredentials is GET /apps/{app}/redis-credentials[?database=NAME]:
// the add-on found as the heroku CLI's redis commands find it (see
// engine.RedisCredentials).
func (s *Server) redisCredentials(w http.ResponseWriter, r *http.Request) {
	a, url, err := s.Engine.RedisCredentials(r.PathValue("app"), r.URL.Query().Get("database"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, RedisCredentialsView{Addon: AddonRef{ID: a.ID, Name: a.Name, App: s.appRef(a.App)}, URL: url})
}

// resetRedisCredentials is POST /apps/{app}/redis-actions/reset-credentials:
// {"database": NAME (default: the app's only Redis)}.
func (s *Server) resetRedisCredentials(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Database string `json:"database"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	rot, err := s.Engine.ResetRedisCredentials(r.Context(), r.PathValue("app"), body.Database, s.by(r), nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.rotationView(rot))
}

// dataResetRedisCredentials is the Data API's POST
// /redis/v0/databases/{addon}/credentials_rotation (redis:credentials
// --reset). The add-on is found among those the caller may see, and
// reset through an app of theirs it is attached to, with the same
// checks as through hako's own route.
func (s *Server) dataResetRedisCredentials(w http.ResponseWriter, r *http.Request) {
	a, _, err := s.dataAddon(r, redisService)
	if err != nil {
		s.fail(w, err)
		return
	}
	via := s.viaApp(r, a)
	rot, err := s.Engine.ResetRedisCredentials(r.Context(), via, a.ID, s.by(r), nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.rotationView(rot))
}
