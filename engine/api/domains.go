package api

import (
	"net/http"
	"net/url"
)

// DomainView is a custom domain in the Platform API's shape.
type DomainView struct {
	Hostname string `json:"hostname"`
	Kind     string `json:"kind"`
	// CNAME is where to point the hostname's DNS: the app's own name.
	CNAME string `json:"cname"`
}

func (s *Server) domainViews(app string, hosts []string) []DomainView {
	own := ""
	if s.WebURL != nil {
		own = s.WebURL(app)
	}
	out := []DomainView{}
	if s.WebURL != nil {
		// The app's own hostname comes first, as Heroku lists its
		// herokuapp.com domain.
		if u, err := url.Parse(s.WebURL(app)); err == nil {
			out = append(out, DomainView{Hostname: u.Hostname(), Kind: "heroku"})
		}
	}
	for _, h := range hosts {
		out = append(out, DomainView{Hostname: h, Kind: "custom", CNAME: own})
	}
	return out
}

func (s *Server) listDomains(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.domainViews(app.Name, app.Domains))
}

// addDomain takes {"hostname": "www.example.test"}.
func (s *Server) addDomain(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Hostname string `json:"hostname"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	hosts, err := s.Engine.AddDomain(r.PathValue("app"), body.Hostname)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.domainViews(r.PathValue("app"), hosts))
}

// removeDomain removes one hostname, or all of them without one.
func (s *Server) removeDomain(w http.ResponseWriter, r *http.Request) {
	hosts, err := s.Engine.RemoveDomain(r.PathValue("app"), r.PathValue("host"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.domainViews(r.PathValue("app"), hosts))
}
