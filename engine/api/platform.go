package api

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"hako/engine"
)

// platformRoutes adds the rest of the Platform API that Heroku's clients
// (the heroku CLI, heroku-go) call: single resources by id, the lists
// they read before acting, and the slug and source flow.
func (s *Server) platformRoutes(mux *routes) {
	mux.HandleFunc("GET /apps/{app}/dynos/{dyno}", s.getDyno)
	mux.HandleFunc("GET /apps/{app}/releases/{version}/config-vars", s.getReleaseConfig)
	mux.HandleFunc("PATCH /apps/{app}/formation/{type}", s.patchFormationType)
	mux.HandleFunc("DELETE /apps/{app}/formations/{type}", s.restartType)
	mux.HandleFunc("POST /apps/{app}/formations/{type}/actions/stop", s.restartType)
	mux.HandleFunc("GET /apps/{app}/domains/{host}", s.getDomain)
	mux.HandleFunc("GET /apps/{app}/sni-endpoints", empty)
	mux.HandleFunc("GET /addons/{addon}", s.getAddonByID)
	mux.HandleFunc("GET /addon-services", s.addonServices)
	mux.HandleFunc("GET /addon-services/{service}", s.addonServices)
	mux.HandleFunc("GET /addon-services/{service}/plans", s.addonPlans)
	mux.HandleFunc("GET /apps/{app}/features", s.appFeatures)
	mux.HandleFunc("GET /account/features", empty)
	mux.HandleFunc("GET /stacks", stacks)
	mux.HandleFunc("GET /regions", regions)
	mux.HandleFunc("POST /apps/{app}/slugs", s.createSlug)
	mux.HandleFunc("GET /apps/{app}/slugs/{slug}", s.getSlug)
	mux.HandleFunc("POST /sources", s.createSource)
	mux.HandleFunc("GET /apps/{app}/builds", s.listBuilds)
	mux.HandleFunc("GET /apps/{app}/builds/{id}", s.getBuild)
}

// empty answers a list hako has nothing in: features, SNI endpoints (the
// router's certificate covers every app).
func empty(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []struct{}{})
}

func stacks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []map[string]any{{
		"id": stableID("stack", engine.Stack), "name": engine.Stack, "state": "default", "default": true,
		"created_at": time.Time{}, "updated_at": time.Time{},
	}})
}

func regions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []map[string]any{{
		"id": stableID("region", "local"), "name": "local", "description": "This machine", "country": "", "locale": "",
		"private_capable": false, "created_at": time.Time{}, "updated_at": time.Time{},
	}})
}

// formationSizes are the dyno sizes a formation update may name. hako
// runs one size, so any of them means it; others are refused.
var formationSizes = map[string]bool{
	"eco": true, "basic": true, "free": true, "hobby": true, "standard-1x": true, "standard-2x": true,
	"performance-m": true, "performance-l": true, "1x": true, "2x": true,
}

func checkSize(size *string) error {
	if size == nil || formationSizes[strings.ToLower(*size)] {
		return nil
	}
	return engine.Errorf(engine.EINVALID, "Dyno size %q is unknown: hako runs every dyno at one size (Basic); give basic, standard-1x and the like, or leave size out.", *size)
}

// patchFormationType is PATCH /apps/{app}/formation/{type}:
// {"quantity": N, "size": S}. A size alone changes nothing (one size
// here) but must be one Heroku knows.
func (s *Server) patchFormationType(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Quantity *quantity `json:"quantity"`
		Size     *string   `json:"size"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if err := checkSize(body.Size); err != nil {
		s.fail(w, err)
		return
	}
	name, typ := r.PathValue("app"), r.PathValue("type")
	var f []engine.FormationEntry
	var err error
	if body.Quantity != nil {
		f, err = s.Engine.Scale(r.Context(), name, s.by(r), map[string]int{typ: int(*body.Quantity)})
	} else if body.Size != nil {
		f, err = s.Engine.Formation(name)
	} else {
		err = engine.Errorf(engine.EINVALID, "Formation update for %q has neither quantity nor size.", typ)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, v := range s.formationViews(name, f) {
		if v.Type == typ {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	s.fail(w, engine.Errorf(engine.ENOTFOUND, "%s has no process type %s.", name, typ))
}

// restartType restarts (DELETE /apps/{app}/formations/{type}) or stops
// (POST …/actions/stop, which Heroku's platform follows with a start)
// every dyno of a process type.
func (s *Server) restartType(w http.ResponseWriter, r *http.Request) {
	if err := s.Engine.Restart(r.Context(), r.PathValue("app"), s.by(r), r.PathValue("type")); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

// findAddon finds an add-on by id or name among those the caller may
// see (through its app or an app it is attached to).
func (s *Server) findAddon(r *http.Request, ref string) (engine.Addon, error) {
	ad, err := s.Engine.FindAddon(ref)
	if err != nil || !s.canSeeAddon(r, ad) {
		return engine.Addon{}, engine.Errorf(engine.ENOTFOUND, "Couldn't find that add-on: %s.", ref)
	}
	return *ad, nil
}

// getAddonByID is GET /addons/{addon}: an add-on by id or name, whatever
// its app.
func (s *Server) getAddonByID(w http.ResponseWriter, r *http.Request) {
	ad, err := s.findAddon(r, r.PathValue("addon"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.addonView(ad))
}

// ServiceView is an add-on service in the Platform API's shape.
type ServiceView struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	HumanName         string    `json:"human_name"`
	State             string    `json:"state"`
	CLIPluginName     *string   `json:"cli_plugin_name"`
	SupportsMultiple  bool      `json:"supports_multiple_installations"`
	SupportsSharing   bool      `json:"supports_sharing"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	DefaultAttachment string    `json:"default_attachment_name"`
}

func serviceView(p engine.AddonProvider) ServiceView {
	human := map[string]string{"heroku-postgresql": "Heroku Postgres", "heroku-redis": "Heroku Key-Value Store"}[p.Service()]
	if human == "" {
		human = p.Service()
	}
	return ServiceView{ID: stableID("addon-service", p.Service()), Name: p.Service(), HumanName: human, State: "ga",
		SupportsMultiple: true, DefaultAttachment: p.Attachment()}
}

// addonServices is GET /addon-services[/{service}]: the services this
// server provides.
func (s *Server) addonServices(w http.ResponseWriter, r *http.Request) {
	if name := r.PathValue("service"); name != "" {
		p, err := s.provider(name)
		if err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, serviceView(p))
		return
	}
	names := make([]string, 0, len(s.Engine.AddonProviders))
	for n := range s.Engine.AddonProviders {
		names = append(names, n)
	}
	sort.Strings(names)
	out := []ServiceView{}
	for _, n := range names {
		out = append(out, serviceView(s.Engine.AddonProviders[n]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) provider(name string) (engine.AddonProvider, error) {
	for n, p := range s.Engine.AddonProviders {
		if n == name || stableID("addon-service", n) == name {
			return p, nil
		}
	}
	return nil, engine.Errorf(engine.ENOTFOUND, "Couldn't find that add-on service: %s.", name)
}

// addonPlans is GET /addon-services/{service}/plans, all free.
func (s *Server) addonPlans(w http.ResponseWriter, r *http.Request) {
	p, err := s.provider(r.PathValue("service"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []map[string]any{}
	for i, plan := range p.Plans() {
		name := p.Service() + ":" + plan
		out = append(out, map[string]any{
			"id": stableID("plan", name), "name": name, "human_name": plan, "description": plan, "default": i == 0,
			"price": free, "state": "public", "compliance": nil, "installable_inside_private_network": false,
			"installable_outside_private_network": true, "addon_service": IDName{ID: stableID("addon-service", p.Service()), Name: p.Service()},
			"created_at": time.Time{}, "updated_at": time.Time{},
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// drainPathRe matches DELETE /apps/{app}/log-drains/{url}, whose URL may
// come unescaped (heroku-go sends syslog://host:514 as it is): a mux
// would clean its "//" and redirect, so it is routed before any mux.
var drainPathRe = regexp.MustCompile(`^/apps/([^/]+)/log-drains/(.+)$`)

// rawPaths routes the paths a mux would mangle, behind the token and
// the check their route has like the rest, and hands everything else to
// next.
func (s *Server) rawPaths(next http.Handler) http.Handler {
	remove := s.guard("DELETE /apps/{app}/log-drains/{drain...}", http.HandlerFunc(s.removeDrain))
	drain := s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := drainPathRe.FindStringSubmatch(r.URL.EscapedPath())
		app, err1 := url.PathUnescape(m[1])
		drain, err2 := url.PathUnescape(m[2])
		if err1 != nil || err2 != nil {
			s.fail(w, engine.Errorf(engine.EINVALID, "The log drain's path is not a valid URL path."))
			return
		}
		if uuidRe.MatchString(app) {
			a, err := s.appByID(app)
			if err != nil {
				s.fail(w, err)
				return
			}
			app = a.Name
		}
		r.SetPathValue("app", app)
		r.SetPathValue("drain", drain)
		remove.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && drainPathRe.MatchString(r.URL.EscapedPath()) {
			drain.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// appByID finds an app by its id. Returns ENOTFOUND.
func (s *Server) appByID(id string) (*engine.App, error) {
	apps, err := s.Engine.Apps()
	if err != nil {
		return nil, err
	}
	for _, a := range apps {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, engine.Errorf(engine.ENOTFOUND, "Couldn't find that app.")
}
