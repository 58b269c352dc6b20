package api

import (
	"net/http"
	"strconv"
)

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	cfg, err := s.Engine.Config(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, cfg)
}

// patchConfig takes {"KEY": "value", "OLD": null}, as Heroku's API does.
func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request) {
	var body map[string]*string
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	rel, err := s.Engine.UpdateConfig(r.Context(), r.PathValue("app"), s.by(r), body, nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Heroku-Release-Version", "v"+strconv.Itoa(rel.Version))
	writeJSON(w, http.StatusOK, rel.Config)
}
