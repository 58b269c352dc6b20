package api

import (
	"net/http"

	"hako/engine"
)

// Credential rotation, Heroku's pg:credentials:rotate: through hako's
// own route, for `hako pg:credentials:rotate`, and through the Data
// API's, which the heroku CLI calls once it has asked the user to
// confirm.

// RotationView is what a rotation did: the add-on and the release made
// on each app it is attached to.
type RotationView struct {
	Addon    AddonRef          `json:"addon"`
	Releases []RotationRelease `json:"releases"`
}

// RotationRelease is one app's release with the new URL.
type RotationRelease struct {
	App         string `json:"app"`
	Version     int    `json:"version"`
	Description string `json:"description"`
}

func (s *Server) rotationView(r *engine.Rotation) RotationView {
	v := RotationView{Addon: AddonRef{ID: r.Addon.ID, Name: r.Addon.Name, App: s.appRef(r.Addon.App)}, Releases: []RotationRelease{}}
	for _, rel := range r.Releases {
		v.Releases = append(v.Releases, RotationRelease{App: rel.App, Version: rel.Version, Description: rel.Description})
	}
	return v
}

// rotateCredentials is POST /apps/{app}/pg-actions/rotate-credentials:
// {"database": "SHARED_DB" (default DATABASE), "confirm": APP}.
func (s *Server) rotateCredentials(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Database string `json:"database"`
		Confirm  string `json:"confirm"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	rot, err := s.Engine.RotateCredentials(r.Context(), r.PathValue("app"), body.Database, body.Confirm, s.by(r), nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.rotationView(rot))
}

// dataRotateCredentials is the Data API's POST
// /postgres/v0/databases/{addon}/credentials/{name}/credentials_rotation
// (and .../credentials_rotation for all of them: hako's databases have
// one, "default"). The add-on is found among those the caller may see,
// and rotated through an app of theirs it is attached to, with the same
// checks as through hako's own route; the heroku CLI has had the user
// confirm with that app's name already.
func (s *Server) dataRotateCredentials(w http.ResponseWriter, r *http.Request) {
	a, _, err := s.dataAddon(r, postgresService)
	if err != nil {
		s.fail(w, err)
		return
	}
	if name := r.PathValue("name"); name != "" && name != "default" {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "%s has no credential %s: hako's databases have only the default one.", a.Name, name))
		return
	}
	via := s.viaApp(r, a)
	rot, err := s.Engine.RotateCredentials(r.Context(), via, a.ID, via, s.by(r), nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.rotationView(rot))
}
