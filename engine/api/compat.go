package api

import (
	"net/http"
	"strings"
	"time"
)

// compatRoutes adds what the official heroku CLI asks for around its
// commands and nobody else serves: the lookup of its buildpack registry
// and the Data API of its pg and redis commands. authed takes the routes
// that need the token; open the ones the CLI calls without it.
func (s *Server) compatRoutes(authed *routes, open *http.ServeMux) {
	// The CLI's buildpack registry client sends no token: the registry
	// is public on Heroku too, and here it only names the built-in packs.
	open.HandleFunc("GET /buildpacks/{name}", s.registryBuildpack)
	s.dataRoutes(authed)
}

// epoch stands for the creation time of what hako has always had.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// featureView is an app or account feature in the Platform API's shape.
type featureView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Description string    `json:"description"`
	DocURL      string    `json:"doc_url"`
	Enabled     bool      `json:"enabled"`
	State       string    `json:"state"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// appFeatures are the Heroku app features whose behaviour every hako app
// has, always on: preboot (dynos are replaced start-first) and the dyno
// metadata variables. No feature can be turned off, so the list is fixed.
var appFeatures = []featureView{
	{ID: "00000000-0000-4000-8000-0000000000f1", Name: "preboot", DisplayName: "Preboot", Description: "Provide seamless web dyno deploys", DocURL: "https://devcenter.heroku.com/articles/preboot", Enabled: true, State: "general", CreatedAt: epoch, UpdatedAt: epoch},
	{ID: "00000000-0000-4000-8000-0000000000f2", Name: "runtime-dyno-metadata", DisplayName: "Runtime Dyno Metadata", Description: "Provide dyno metadata (HEROKU_APP_NAME, HEROKU_RELEASE_VERSION, HEROKU_SLUG_COMMIT) in the environment", DocURL: "https://devcenter.heroku.com/articles/dyno-metadata", Enabled: true, State: "beta", CreatedAt: epoch, UpdatedAt: epoch},
}

func (s *Server) appFeatures(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Engine.App(r.PathValue("app")); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, appFeatures)
}

// registryBuildpacks are the registry names of the built-in packs, with
// their ids.
var registryBuildpacks = map[string]string{
	"heroku/go":       "00000000-0000-4000-8000-0000000000b1",
	"heroku/nodejs":   "00000000-0000-4000-8000-0000000000b2",
	"heroku/procfile": "00000000-0000-4000-8000-0000000000b3",
}

// registryBuildpack answers the buildpack registry's lookup, which the
// heroku CLI makes (at HEROKU_BUILDPACK_REGISTRY_URL) to turn
// `buildpacks:set heroku/go` into the URL it then installs. hako's
// registry knows its built-in packs, as the urn Heroku's API accepts for
// its own (urn:buildpack:heroku/go).
func (s *Server) registryBuildpack(w http.ResponseWriter, r *http.Request) {
	name := strings.ToLower(r.PathValue("name"))
	id, ok := registryBuildpacks[name]
	if !ok {
		writeJSON(w, http.StatusNotFound, ErrorBody{ID: "not_found", Message: "Buildpack " + name + " is not built into hako: use go, nodejs, procfile, a pack installed on the server or a git URL."})
		return
	}
	namespace, short, _ := strings.Cut(name, "/")
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "namespace": namespace, "name": short,
		"blob_url": "urn:buildpack:" + name, "description": "hako's built-in " + short + " buildpack",
		"two_factor_authentication": false, "created_at": epoch, "updated_at": epoch,
	})
}
