package api

import (
	"net/http"
	"time"

	"hako/engine"
)

// AddonView is an add-on in the Platform API's shape.
type AddonView struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	AddonService NameRef   `json:"addon_service"`
	Plan         NameRef   `json:"plan"`
	App          NameRef   `json:"app"`
	Attachment   NameRef   `json:"attachment"`
	ConfigVars   []string  `json:"config_vars"`
	State        string    `json:"state"`
	CreatedAt    time.Time `json:"created_at"`
}

func addonView(a engine.Addon) AddonView {
	return AddonView{ID: a.ID, Name: a.Name, AddonService: NameRef{a.Service}, Plan: NameRef{a.Service + ":" + a.Plan},
		App: NameRef{a.App}, Attachment: NameRef{a.As}, ConfigVars: []string{a.ConfigVar()}, State: a.State, CreatedAt: a.Created}
}

func (s *Server) listAddons(w http.ResponseWriter, r *http.Request) {
	list, err := s.Engine.Addons(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []AddonView{}
	for _, a := range list {
		out = append(out, addonView(a))
	}
	writeJSON(w, http.StatusOK, out)
}

// createAddon takes {"plan": "heroku-postgresql[:PLAN]", "attachment": {"name": "DATABASE"}}.
func (s *Server) createAddon(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Plan       string  `json:"plan"`
		Attachment NameRef `json:"attachment"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	a, err := s.Engine.CreateAddon(r.Context(), engine.AddonRequest{App: r.PathValue("app"), Service: body.Plan, As: body.Attachment.Name, User: s.User})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, addonView(*a))
}

func (s *Server) deleteAddon(w http.ResponseWriter, r *http.Request) {
	a, err := s.Engine.DestroyAddon(r.Context(), r.PathValue("app"), r.PathValue("addon"), s.User, nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, addonView(*a))
}
