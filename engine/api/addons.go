package api

import (
	"encoding/json"
	"net/http"
	"time"

	"hako/engine"
)

// AddonView is an add-on in the Platform API's shape.
type AddonView struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	AddonService  IDName     `json:"addon_service"`
	Plan          PlanRef    `json:"plan"`
	App           AppRef     `json:"app"`
	BillingEntity BillingRef `json:"billing_entity"`
	BilledPrice   Price      `json:"billed_price"`
	Attachment    NameRef    `json:"attachment"`
	ConfigVars    []string   `json:"config_vars"`
	State         string     `json:"state"`
	ProviderID    string     `json:"provider_id"`
	WebURL        *string    `json:"web_url"`
	Actions       []struct{} `json:"actions"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	// Usage, in GET /apps/APP/addons/ADDON only, is how much of its plan
	// the add-on uses (hako's addition to the Platform API's shape).
	Usage []engine.UsageField `json:"usage,omitempty"`
}

// PlanRef is an add-on's plan: "service:plan", free here.
type PlanRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price Price  `json:"price"`
}

// Price is what a plan costs: nothing, locally.
type Price struct {
	Cents    int    `json:"cents"`
	Unit     string `json:"unit"`
	Contract bool   `json:"contract"`
}

// BillingRef is who an add-on is billed to: its app, as Heroku says.
type BillingRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// AppRef names an app by id and name, as the Platform API nests it.
type AppRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

var free = Price{Cents: 0, Unit: "month"}

func (s *Server) addonView(a engine.Addon) AddonView {
	app := AppRef{Name: a.App}
	if x, err := s.Engine.App(a.App); err == nil {
		app.ID = x.ID
	}
	plan := a.Service + ":" + a.Plan
	return AddonView{ID: a.ID, Name: a.Name, AddonService: IDName{ID: stableID("addon-service", a.Service), Name: a.Service},
		Plan: PlanRef{ID: stableID("plan", plan), Name: plan, Price: free}, App: app,
		BillingEntity: BillingRef{ID: app.ID, Name: app.Name, Type: "app"}, BilledPrice: free,
		Attachment: NameRef{a.As}, ConfigVars: []string{a.ConfigVar()}, State: a.State, ProviderID: a.ID,
		Actions: []struct{}{}, CreatedAt: a.Created, UpdatedAt: a.Created}
}

// addonInfo answers GET /apps/APP/addons/ADDON: one add-on, by name,
// attachment or id, with its usage.
func (s *Server) addonInfo(w http.ResponseWriter, r *http.Request) {
	a, usage, err := s.Engine.AddonInfo(r.Context(), r.PathValue("app"), r.PathValue("addon"))
	if err != nil {
		s.fail(w, err)
		return
	}
	v := s.addonView(*a)
	v.Usage = usage
	writeJSON(w, http.StatusOK, v)
}

// listAddons lists the add-ons attached to the app: its own and other
// apps' it is attached to, each once.
func (s *Server) listAddons(w http.ResponseWriter, r *http.Request) {
	list, err := s.Engine.Attachments(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []AddonView{}
	seen := map[string]bool{}
	for _, at := range list {
		if !seen[at.Addon.ID] {
			seen[at.Addon.ID] = true
			out = append(out, s.addonView(at.Addon))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// planRef is a plan given as "service:plan" or, as the heroku CLI sends
// it, {"name": "service:plan"}.
type planRef string

func (p *planRef) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*p = planRef(s)
		return nil
	}
	var ref NameRef
	if err := json.Unmarshal(b, &ref); err != nil {
		return engine.Errorf(engine.EINVALID, "plan must be \"SERVICE[:PLAN]\" or {\"name\": \"SERVICE[:PLAN]\"}.")
	}
	*p = planRef(ref.Name)
	return nil
}

// createAddon takes {"plan": "heroku-postgresql[:PLAN]", "attachment": {"name": "DATABASE"}}.
func (s *Server) createAddon(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Plan       planRef `json:"plan"`
		Attachment NameRef `json:"attachment"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	a, err := s.Engine.CreateAddon(r.Context(), engine.AddonRequest{App: r.PathValue("app"), Service: string(body.Plan), As: body.Attachment.Name, User: s.by(r)})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.addonView(*a))
}

// deleteAddon destroys an add-on of the app; {"force": true} (the heroku
// CLI's --force) is needed when it is attached to other apps too.
func (s *Server) deleteAddon(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Force bool `json:"force"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	a, err := s.Engine.DestroyAddon(r.Context(), r.PathValue("app"), r.PathValue("addon"), s.by(r), body.Force, nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	a.State = "deprovisioned"
	writeJSON(w, http.StatusOK, s.addonView(*a))
}

// resolveAddon is the heroku CLI's way to find an add-on before acting on
// it: {"app": "APP", "addon": "NAME or ATTACHMENT"}, an add-on attached
// to the app (its own or another's), or without an app any add-on the
// caller may see.
func (s *Server) resolveAddon(w http.ResponseWriter, r *http.Request) {
	var body struct {
		App   string `json:"app"`
		Addon string `json:"addon"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.App == "" {
		ad, err := s.Engine.FindAddon(body.Addon)
		if err == nil && !s.canSeeAddon(r, ad) {
			err = engine.Errorf(engine.ENOTFOUND, "Couldn't find that add-on.")
		}
		if err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, []AddonView{s.addonView(*ad)})
		return
	}
	if err := s.Engine.CheckAccess(s.by(r), body.App, engine.AccessMember); err != nil {
		s.fail(w, err)
		return
	}
	list, err := s.Engine.Attachments(body.App)
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, at := range list {
		if at.Addon.Name == body.Addon || at.Name == body.Addon || at.Addon.ID == body.Addon {
			writeJSON(w, http.StatusOK, []AddonView{s.addonView(at.Addon)})
			return
		}
	}
	s.fail(w, engine.Errorf(engine.ENOTFOUND, "Couldn't find that add-on."))
}

// oneAppOrAll is the app named name, or every app the caller may see when
// name is empty: the two scopes of Heroku's add-on listings.
func (s *Server) oneAppOrAll(r *http.Request, name string) ([]*engine.App, error) {
	var all []*engine.App
	if name != "" {
		a, err := s.Engine.App(name)
		if err != nil {
			return nil, err
		}
		all = []*engine.App{a}
	} else {
		var err error
		if all, err = s.Engine.Apps(); err != nil {
			return nil, err
		}
	}
	var apps []*engine.App
	for _, a := range all {
		if canSee(r, a) {
			apps = append(apps, a)
		}
	}
	return apps, nil
}
