package api

import (
	"net/http"

	"hako/engine"
)

func (s *Server) listDomains(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.domainViews(app))
}

// getDomain is GET /apps/{app}/domains/{host}: one domain, by hostname
// or id.
func (s *Server) getDomain(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	d, err := s.findDomain(app, r.PathValue("host"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// addDomain takes {"hostname": "www.example.test"} and answers the new
// domain.
func (s *Server) addDomain(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Hostname string `json:"hostname"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if _, err := s.Engine.AddDomain(r.PathValue("app"), body.Hostname); err != nil {
		s.fail(w, err)
		return
	}
	s.answerDomain(w, r.PathValue("app"), body.Hostname, http.StatusCreated)
}

// answerDomain writes the app's domain host as it is now.
func (s *Server) answerDomain(w http.ResponseWriter, name, host string, status int) {
	app, err := s.Engine.App(name)
	if err != nil {
		s.fail(w, err)
		return
	}
	d, err := s.findDomain(app, host)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, status, d)
}

// removeDomain removes one hostname (by name or id) and answers it as it
// was, or removes all of them without one and answers what is left.
func (s *Server) removeDomain(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	host := r.PathValue("host")
	if host == "" {
		if _, err := s.Engine.RemoveDomain(app.Name, ""); err != nil {
			s.fail(w, err)
			return
		}
		if app, err = s.Engine.App(app.Name); err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s.domainViews(app))
		return
	}
	d, err := s.findDomain(app, host)
	if err != nil {
		s.fail(w, err)
		return
	}
	if d.Kind != "custom" {
		s.fail(w, engine.Errorf(engine.EINVALID, "%s is the app's own hostname: only custom domains can be removed.", d.Hostname))
		return
	}
	if _, err := s.Engine.RemoveDomain(app.Name, d.Hostname); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
