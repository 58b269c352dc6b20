package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"hako/engine"
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
	rel, err := s.Engine.UpdateConfig(r.Context(), r.PathValue("app"), s.User, body, nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Heroku-Release-Version", "v"+strconv.Itoa(rel.Version))
	writeJSON(w, http.StatusOK, rel.Config)
}

// ReleaseView is a release in the Platform API's shape.
type ReleaseView struct {
	ID          string    `json:"id"`
	Version     int       `json:"version"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	Current     bool      `json:"current"`
	CreatedAt   time.Time `json:"created_at"`
	User        struct {
		Email string `json:"email"`
	} `json:"user"`
	Slug *struct {
		ID string `json:"id"`
	} `json:"slug"`
	Commit string `json:"commit,omitempty"`
	// AppJSON is the app.json the release's slug was built with.
	AppJSON json.RawMessage `json:"app_json,omitempty"`
}

func (s *Server) releaseView(app *engine.App, rel *engine.Release) ReleaseView {
	v := ReleaseView{ID: app.Name + "-v" + strconv.Itoa(rel.Version), Version: rel.Version, Description: rel.Description,
		Status: rel.Status, Current: rel.Version == app.CurrentRelease, CreatedAt: rel.CreatedAt}
	v.User.Email = rel.User
	if rel.SlugID != "" {
		v.Slug = &struct {
			ID string `json:"id"`
		}{rel.SlugID}
		if slug, err := s.Engine.Slug(rel.SlugID); err == nil {
			v.Commit = slug.Commit
			v.AppJSON = slug.AppJSON
		}
	}
	return v
}

// listReleases honours the Range header the Heroku CLI sends
// ("version ..; order=desc, max=15"); without it releases come oldest
// first, as the Platform API lists them.
func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	rels, err := s.Engine.Releases(app.Name)
	if err != nil {
		s.fail(w, err)
		return
	}
	desc, max := parseRange(r.Header.Get("Range"))
	out := []ReleaseView{}
	for i := range rels {
		rel := rels[len(rels)-1-i]
		if desc {
			rel = rels[i]
		}
		out = append(out, s.releaseView(app, rel))
		if max > 0 && len(out) == max {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func parseRange(h string) (desc bool, max int) {
	for _, part := range strings.FieldsFunc(h, func(r rune) bool { return r == ';' || r == ',' }) {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "order":
			desc = v == "desc"
		case "max":
			max, _ = strconv.Atoi(v)
		}
	}
	return desc, max
}

// parseVersion reads "3", "v3" or "current" (0).
func parseVersion(s string) (int, error) {
	if s == "" || s == "current" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(s), "v"))
	if err != nil || n < 1 {
		return 0, engine.Errorf(engine.EINVALID, "%q is not a release version: use v3 or 3.", s)
	}
	return n, nil
}

func (s *Server) getRelease(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	v, err := parseVersion(r.PathValue("version"))
	if err != nil {
		s.fail(w, err)
		return
	}
	rel, err := s.Engine.Release(app.Name, v)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.releaseView(app, rel))
}

// createRelease is a rollback: {"release": "v3"} (Heroku's API also
// takes a slug, which hako does not accept yet). The release is
// required, as on Heroku: an empty body must not roll an app back.
func (s *Server) createRelease(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Release string `json:"release"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if strings.TrimSpace(body.Release) == "" {
		s.fail(w, engine.Errorf(engine.EINVALID, `Missing "release": give the release to roll back to, {"release": "v3"}.`))
		return
	}
	// A release is named by its version (v3, 3) or its id (APP-v3), which
	// is what the heroku CLI sends.
	v, err := parseVersion(strings.TrimPrefix(body.Release, r.PathValue("app")+"-"))
	if err != nil {
		s.fail(w, err)
		return
	}
	rel, err := s.Engine.Rollback(r.Context(), r.PathValue("app"), s.User, v, nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	app, err := s.Engine.App(rel.App)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.releaseView(app, rel))
}
