package api

import (
	"net/http"

	"hako/engine"
)

// DrainView is a log drain in the Platform API's shape.
type DrainView struct {
	ID    string `json:"id"`
	URL   string `json:"url"`
	Token string `json:"token"`
}

func drainViews(ds []engine.Drain) []DrainView {
	out := []DrainView{}
	for _, d := range ds {
		out = append(out, DrainView{ID: d.ID, URL: d.URL, Token: d.Token})
	}
	return out
}

func (s *Server) listDrains(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, drainViews(app.Drains))
}

// addDrain takes {"url": "syslog://HOST:PORT"}.
func (s *Server) addDrain(w http.ResponseWriter, r *http.Request) {
	var body struct {
		URL string `json:"url"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	d, err := s.Engine.AddDrain(r.PathValue("app"), body.URL)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, drainViews([]engine.Drain{*d})[0])
}

func (s *Server) removeDrain(w http.ResponseWriter, r *http.Request) {
	d, err := s.Engine.RemoveDrain(r.PathValue("app"), r.PathValue("drain"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, drainViews([]engine.Drain{*d})[0])
}
