package api

import (
	"net/http"
	"time"

	"hako/engine"
)

// ReviewAppsView is a parent's review apps settings and its review apps
// (hako's own resource).
type ReviewAppsView struct {
	Parent  string          `json:"parent"`
	Enabled bool            `json:"enabled"`
	ForkDB  bool            `json:"fork_db"`
	Apps    []ReviewAppView `json:"apps"`
}

// ReviewAppView is one review app.
type ReviewAppView struct {
	Name      string    `json:"name"`
	Branch    string    `json:"branch"`
	WebURL    string    `json:"web_url"`
	Release   int       `json:"current_release"`
	Commit    string    `json:"commit,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) reviewRoutes(mux *routes) {
	mux.HandleFunc("GET /apps/{app}/review-apps", s.listReviewApps)
	mux.HandleFunc("PUT /apps/{app}/review-app-config", s.setReviewApps)
}

func (s *Server) reviewAppsView(parent string) (ReviewAppsView, error) {
	rs, err := s.Engine.ReviewSettingsOf(parent)
	if err != nil {
		return ReviewAppsView{}, err
	}
	list, err := s.Engine.ReviewApps(parent)
	if err != nil {
		return ReviewAppsView{}, err
	}
	v := ReviewAppsView{Parent: rs.Parent, Enabled: rs.Enabled, ForkDB: rs.ForkDB, Apps: []ReviewAppView{}}
	for _, ra := range list {
		av := ReviewAppView{Name: ra.Name, Branch: ra.Branch, WebURL: s.url(s.WebURL, ra.Name), CreatedAt: ra.CreatedAt}
		if a, err := s.Engine.App(ra.Name); err == nil {
			av.Release = a.CurrentRelease
			if rel, err := s.Engine.Release(a.Name, 0); err == nil && rel.SlugID != "" {
				if sl, err := s.Engine.Slug(rel.SlugID); err == nil {
					av.Commit = sl.Commit
				}
			}
		}
		v.Apps = append(v.Apps, av)
	}
	return v, nil
}

func (s *Server) listReviewApps(w http.ResponseWriter, r *http.Request) {
	v, err := s.reviewAppsView(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// setReviewApps takes {"enabled": true, "fork_db": false}.
func (s *Server) setReviewApps(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Enabled *bool `json:"enabled"`
		ForkDB  bool  `json:"fork_db"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.Enabled == nil {
		s.fail(w, engine.Errorf(engine.EINVALID, "Say whether review apps are enabled: {\"enabled\": true}."))
		return
	}
	if _, err := s.Engine.EnableReviewApps(r.PathValue("app"), *body.Enabled, body.ForkDB); err != nil {
		s.fail(w, err)
		return
	}
	v, err := s.reviewAppsView(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
