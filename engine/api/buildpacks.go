package api

import (
	"net/http"
)

// BuildpackInstallation is one of an app's buildpacks in the Platform
// API's shape.
type BuildpackInstallation struct {
	Ordinal   int `json:"ordinal"`
	Buildpack struct {
		URL  string `json:"url"`
		Name string `json:"name"`
	} `json:"buildpack"`
}

func installations(packs []string) []BuildpackInstallation {
	out := []BuildpackInstallation{}
	for i, p := range packs {
		var b BuildpackInstallation
		b.Ordinal, b.Buildpack.URL, b.Buildpack.Name = i, p, p
		out = append(out, b)
	}
	return out
}

func (s *Server) listBuildpacks(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, installations(app.Buildpacks))
}

// putBuildpacks replaces the list: {"updates": [{"buildpack": "URL"}]}.
func (s *Server) putBuildpacks(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Updates []struct {
			Buildpack string `json:"buildpack"`
		} `json:"updates"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	packs := []string{}
	for _, u := range body.Updates {
		packs = append(packs, u.Buildpack)
	}
	got, err := s.Engine.SetBuildpacks(r.PathValue("app"), packs)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, installations(got))
}
