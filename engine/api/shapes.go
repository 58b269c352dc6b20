package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"hako/engine"
)

// stableID derives a UUID from parts, for the Platform API's ids of
// things hako does not record one for (a dyno, a domain, a process
// type): the same thing gets the same id in every answer.
func stableID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	h[6] = h[6]&0x0f | 0x50 // version 5: name-based
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// baseURL is the scheme and host the client reached the API at, for the
// URLs an answer hands out (log sessions, build output, blobs).
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// DynoView is a dyno in the Platform API's shape. Port and PID are
// hako's own, for its CLI and tests.
type DynoView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	App       AppRef    `json:"app"`
	Release   IDVersion `json:"release"`
	Command   string    `json:"command"`
	State     string    `json:"state"`
	Size      string    `json:"size"`
	AttachURL *string   `json:"attach_url"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Port      int       `json:"port,omitempty"`
	PID       int       `json:"pid,omitempty"`
}

// IDVersion names a release by its id and version.
type IDVersion struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// releaseIDs maps the app's release versions to their ids.
func (s *Server) releaseIDs(app string) map[int]string {
	ids := map[int]string{}
	rels, err := s.Engine.Releases(app)
	if err != nil {
		return ids
	}
	for _, r := range rels {
		ids[r.Version] = r.ID
	}
	return ids
}

func dynoView(a *engine.App, d engine.DynoStatus, rels map[int]string) DynoView {
	return DynoView{
		ID: stableID(a.ID, "dyno", d.Name), Name: d.Name, Type: d.Type, App: AppRef{ID: a.ID, Name: a.Name},
		Release: IDVersion{ID: rels[d.Release], Version: d.Release}, Command: d.Command, State: d.State,
		Size: "Basic", CreatedAt: d.Since, UpdatedAt: d.Since, Port: d.Port, PID: d.PID,
	}
}

func (s *Server) dynoViews(a *engine.App) []DynoView {
	rels := s.releaseIDs(a.Name)
	out := []DynoView{}
	for _, d := range s.Engine.Dynos(a.Name) {
		out = append(out, dynoView(a, d, rels))
	}
	return out
}

func (s *Server) listDynos(w http.ResponseWriter, r *http.Request) {
	a, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.dynoViews(a))
}

// getDyno is GET /apps/{app}/dynos/{dyno}: one dyno, by name or id.
func (s *Server) getDyno(w http.ResponseWriter, r *http.Request) {
	a, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	want := r.PathValue("dyno")
	for _, d := range s.dynoViews(a) {
		if d.Name == want || d.ID == want {
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
	s.fail(w, engine.Errorf(engine.ENOTFOUND, "Couldn't find that dyno: no dyno %s of %s runs.", want, a.Name))
}

// FormationView is a process type in the Platform API's shape.
type FormationView struct {
	engine.FormationEntry
	ID        string    `json:"id"`
	App       AppRef    `json:"app"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (s *Server) formationViews(name string, f []engine.FormationEntry) []FormationView {
	a, err := s.Engine.App(name)
	out := []FormationView{}
	if err != nil {
		return out
	}
	for _, e := range f {
		out = append(out, FormationView{FormationEntry: e, ID: stableID(a.ID, "formation", e.Type),
			App: AppRef{ID: a.ID, Name: a.Name}, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
	}
	return out
}

// DomainView is a domain in the Platform API's shape.
type DomainView struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	Kind     string `json:"kind"`
	// CNAME is where to point the hostname's DNS: the app's own
	// hostname (null for that one itself).
	CNAME           *string   `json:"cname"`
	Status          string    `json:"status"`
	App             AppRef    `json:"app"`
	SNIEndpoint     *NameRef  `json:"sni_endpoint"`
	ACMStatus       *string   `json:"acm_status"`
	ACMStatusReason *string   `json:"acm_status_reason"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// domainViews lists the app's own hostname first, as Heroku lists its
// herokuapp.com domain, then the custom ones.
func (s *Server) domainViews(a *engine.App) []DomainView {
	ref := AppRef{ID: a.ID, Name: a.Name}
	out := []DomainView{}
	var own *string
	if s.WebURL != nil {
		if u, err := url.Parse(s.WebURL(a.Name)); err == nil && u.Hostname() != "" {
			h := u.Hostname()
			own = &h
			out = append(out, DomainView{ID: stableID(a.ID, "domain", h), Hostname: h, Kind: "heroku", Status: "none",
				App: ref, CreatedAt: a.CreatedAt, UpdatedAt: a.CreatedAt})
		}
	}
	for _, h := range a.Domains {
		added, ok := a.DomainsAdded[h]
		if !ok {
			added = a.CreatedAt
		}
		out = append(out, DomainView{ID: stableID(a.ID, "domain", h), Hostname: h, Kind: "custom", CNAME: own,
			Status: "succeeded", App: ref, CreatedAt: added, UpdatedAt: added})
	}
	return out
}

// findDomain picks one of the app's domains by hostname or id.
func (s *Server) findDomain(a *engine.App, want string) (DomainView, error) {
	host := strings.TrimSuffix(strings.ToLower(want), ".")
	for _, d := range s.domainViews(a) {
		if d.Hostname == host || d.ID == want {
			return d, nil
		}
	}
	return DomainView{}, engine.Errorf(engine.ENOTFOUND, "Couldn't find that domain: %s is not a domain of %s.", want, a.Name)
}

// KeyView is an SSH key in the Platform API's shape.
type KeyView struct {
	engine.Key
	Email     string    `json:"email"`
	UpdatedAt time.Time `json:"updated_at"`
}

// keyView gives the key's public_key with its comment, as Heroku's API
// does (the heroku CLI's keys prints it).
func (s *Server) keyView(k *engine.Key) KeyView {
	v := KeyView{Key: *k, Email: k.Email, UpdatedAt: k.CreatedAt}
	if k.Comment != "" {
		v.PublicKey = k.PublicKey + " " + k.Comment
	}
	return v
}
