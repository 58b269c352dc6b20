package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"hako/engine"
)

// The heroku CLI's data commands (pg:info, pg:psql, pg:credentials:url,
// redis:info, redis:cli) ask Heroku's Data API, at HEROKU_DATA_HOST, about
// an add-on's database; with that variable naming this server, they get
// the answers below, drawn from the add-on and the URL its attachment set.
const (
	postgresService = "heroku-postgresql"
	redisService    = "heroku-redis"
)

func (s *Server) dataRoutes(mux *routes) {
	mux.HandleFunc("GET /client/v11/databases/{addon}", s.postgresDatabase)
	mux.HandleFunc("GET /postgres/v0/databases/{addon}/credentials", s.postgresCredentials)
	mux.HandleFunc("GET /postgres/v0/databases/{addon}/credentials/{name}", s.postgresCredential)
	mux.HandleFunc("GET /redis/v0/databases/{addon}", s.redisDatabase)
	mux.HandleFunc("POST /postgres/v0/databases/{addon}/credentials/{name}/credentials_rotation", s.dataRotateCredentials)
	mux.HandleFunc("POST /postgres/v0/databases/{addon}/credentials_rotation", s.dataRotateCredentials)
	s.transferRoutes(mux)
	s.scheduleRoutes(mux)
	s.redisRoutes(mux)
}

// dataAddon finds an add-on of service by id or name, as the Data API
// does, among those the caller may see (through its app or an app it is
// attached to), with the URL its own attachment gives its app. Returns
// ENOTFOUND.
func (s *Server) dataAddon(r *http.Request, service string) (*engine.Addon, *url.URL, error) {
	ref := r.PathValue("addon")
	apps, err := s.Engine.Apps()
	if err != nil {
		return nil, nil, err
	}
	for _, app := range apps {
		for _, a := range app.Addons {
			if (a.ID != ref && a.Name != ref) || a.Service != service {
				continue
			}
			if !s.canSeeAddon(r, &a) {
				continue // as if it were not there
			}
			config, err := s.Engine.Config(app.Name)
			if err != nil {
				return nil, nil, err
			}
			u, err := url.Parse(config[a.ConfigVar()])
			if err != nil || u.Host == "" {
				return nil, nil, engine.Errorf(engine.ENOTFOUND, "%s has no URL: its config var %s is missing or was changed.", a.Name, a.ConfigVar())
			}
			return &a, u, nil
		}
	}
	return nil, nil, engine.Errorf(engine.ENOTFOUND, "Couldn't find that %s database.", service)
}

// InfoRow is a line of the Data API's info, as pg:info and redis:info
// print them.
type InfoRow struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// dataInfo is the add-on's plan, state and creation, then what its
// provider measures of it (size, connections, memory).
func (s *Server) dataInfo(r *http.Request, a *engine.Addon) []InfoRow {
	rows := []InfoRow{
		{Name: "Plan", Values: []string{planTitle(a.Plan)}},
		{Name: "Status", Values: []string{"Available"}},
		{Name: "Created", Values: []string{a.Created.UTC().Format("2006-01-02 15:04 UTC")}},
	}
	if _, usage, err := s.Engine.AddonInfo(r.Context(), a.App, a.ID); err == nil {
		for _, f := range usage {
			rows = append(rows, InfoRow{Name: f.Name, Values: []string{f.Value}})
		}
	}
	return rows
}

// postgresDatabase is GET /client/v11/databases/{addon} (pg:info).
func (s *Server) postgresDatabase(w http.ResponseWriter, r *http.Request) {
	a, u, err := s.dataAddon(r, postgresService)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"addon_id": a.ID, "name": a.Name, "plan": a.Plan, "resource_url": u.String(),
		"database_name": strings.TrimPrefix(u.Path, "/"), "available_for_ingress": true,
		"info": s.dataInfo(r, a),
	})
}

// credentialView is a database credential in the Data API's shape: hako
// has one, "default", the add-on's own role.
type credentialView struct {
	UUID        string       `json:"uuid"`
	Name        string       `json:"name"`
	State       string       `json:"state"`
	Database    string       `json:"database"`
	Host        string       `json:"host"`
	Port        int          `json:"port"`
	Credentials []credential `json:"credentials"`
}

type credential struct {
	User        string `json:"user"`
	Password    string `json:"password"`
	State       string `json:"state"`
	Connections int    `json:"connections"`
}

func defaultCredential(a *engine.Addon, u *url.URL) credentialView {
	pw, _ := u.User.Password()
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		port = 5432
	}
	return credentialView{UUID: a.ID, Name: "default", State: "active", Database: strings.TrimPrefix(u.Path, "/"), Host: u.Hostname(), Port: port,
		Credentials: []credential{{User: u.User.Username(), Password: pw, State: "active"}}}
}

// postgresCredentials is GET /postgres/v0/databases/{addon}/credentials.
func (s *Server) postgresCredentials(w http.ResponseWriter, r *http.Request) {
	a, u, err := s.dataAddon(r, postgresService)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, []credentialView{defaultCredential(a, u)})
}

// postgresCredential is GET /postgres/v0/databases/{addon}/credentials/{name}
// (pg:credentials:url).
func (s *Server) postgresCredential(w http.ResponseWriter, r *http.Request) {
	a, u, err := s.dataAddon(r, postgresService)
	if err != nil {
		s.fail(w, err)
		return
	}
	if name := r.PathValue("name"); name != "default" {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "%s has no credential %s: hako's databases have only the default one.", a.Name, name))
		return
	}
	writeJSON(w, http.StatusOK, defaultCredential(a, u))
}

// redisDatabase is GET /redis/v0/databases/{addon} (redis:info,
// redis:cli). The CLI speaks TLS to a Redis unless its plan is a
// "hobby" one without prefer_native_tls; hako's Redis servers listen in
// plain TCP on loopback (and the dynos' bridge), so the plan is reported
// as hobby-PLAN, and redis:cli asks for --confirm before it connects, as
// it does for every unencrypted Redis.
func (s *Server) redisDatabase(w http.ResponseWriter, r *http.Request) {
	a, u, err := s.dataAddon(r, redisService)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"addon_id": a.ID, "name": a.Name, "plan": "hobby-" + a.Plan, "prefer_native_tls": false,
		"resource_url": u.String(), "info": s.dataInfo(r, a),
	})
}

// planTitle writes a plan as Heroku's Data API does: essential-0 is
// "Essential 0".
func planTitle(plan string) string {
	if plan == "" {
		return ""
	}
	return strings.ToUpper(plan[:1]) + strings.ReplaceAll(plan[1:], "-", " ")
}
