package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"hako/engine"
)

// Pipelines, couplings and promotions in the Platform API's shapes
// (github.com/heroku/heroku-go's Pipeline, PipelineCoupling,
// PipelinePromotion and PipelinePromotionTarget), so that clients of the
// Platform API, the heroku CLI's pipelines commands among them, work.

// IDRef is the Platform API's nested {"id": …} reference.
type IDRef struct {
	ID string `json:"id"`
}

// Who may do what with a pipeline is engine.CheckPipelineAccess's
// rule: its owner, and members through its apps. Each handler here
// checks the app or pipeline it acts on; lists show each caller only
// what is theirs.

// PipelineView is a pipeline.
type PipelineView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Owner     struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"owner"`
}

// CouplingView is a pipeline coupling. App carries the app's name too
// (hako's addition), so that a client needs no second request.
type CouplingView struct {
	ID        string      `json:"id"`
	App       AppRef      `json:"app"`
	Pipeline  PipelineRef `json:"pipeline"`
	Stage     string      `json:"stage"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	// Release and Commit are the app's current release and the commit it
	// was built from (hako's addition, for pipelines:info).
	Release int    `json:"current_release,omitempty"`
	Commit  string `json:"commit,omitempty"`
}

// PipelineRef names a pipeline by id and name, as the heroku CLI reads a
// coupling's pipeline.
type PipelineRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// PromotionView is a pipeline promotion.
type PromotionView struct {
	ID       string `json:"id"`
	Pipeline IDRef  `json:"pipeline"`
	Source   struct {
		App     AppRef `json:"app"`
		Release IDRef  `json:"release"`
	} `json:"source"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Targets is hako's addition: the outcome on each app, which
	// GET /pipeline-promotions/{id}/promotion-targets also gives.
	Targets []PromotionTargetView `json:"targets"`
}

// PromotionTargetView is a promotion's outcome on one app.
type PromotionTargetView struct {
	ID                string  `json:"id"`
	App               AppRef  `json:"app"`
	PipelinePromotion IDRef   `json:"pipeline_promotion"`
	Release           *IDRef  `json:"release"`
	Status            string  `json:"status"`
	ErrorMessage      *string `json:"error_message"`
	// Version is the release's version on the target (hako's addition).
	Version int `json:"version,omitempty"`
}

// stagingRoutes adds the resources of staging flows to mux: pipelines,
// review apps and PostgreSQL backups.
func (s *Server) stagingRoutes(mux *routes) {
	s.pipelineRoutes(mux)
	s.reviewRoutes(mux)
	s.pgRoutes(mux)
}

// pipelineRoutes adds the pipeline resources to mux.
func (s *Server) pipelineRoutes(mux *routes) {
	mux.HandleFunc("GET /pipelines", s.listPipelines)
	mux.HandleFunc("POST /pipelines", s.createPipeline)
	mux.HandleFunc("GET /pipelines/{pipeline}", s.getPipeline)
	mux.HandleFunc("DELETE /pipelines/{pipeline}", s.deletePipeline)
	mux.HandleFunc("GET /pipelines/{pipeline}/pipeline-couplings", s.listCouplings)
	mux.HandleFunc("GET /pipeline-couplings", s.listCouplings)
	mux.HandleFunc("GET /users/{user}/pipeline-couplings", s.listCouplings)
	mux.HandleFunc("POST /pipeline-couplings", s.createCoupling)
	mux.HandleFunc("GET /pipeline-couplings/{coupling}", s.getCoupling)
	mux.HandleFunc("PATCH /pipeline-couplings/{coupling}", s.updateCoupling)
	mux.HandleFunc("DELETE /pipeline-couplings/{coupling}", s.deleteCoupling)
	mux.HandleFunc("GET /apps/{app}/pipeline-couplings", s.appCoupling)
	mux.HandleFunc("POST /pipeline-promotions", s.createPromotion)
	mux.HandleFunc("GET /pipeline-promotions/{id}", s.getPromotion)
	mux.HandleFunc("GET /pipeline-promotions/{id}/promotion-targets", s.listPromotionTargets)
	mux.HandleFunc("GET /apps/{app}/pipeline-diff", s.pipelineDiff)
	mux.HandleFunc("POST /filters/apps", s.filterApps)
}

// filterApps answers POST /filters/apps {"in": {"id": [ID, …]}}: the
// apps of those ids (or names) the caller may see, which the heroku CLI
// asks for a pipeline's apps.
func (s *Server) filterApps(w http.ResponseWriter, r *http.Request) {
	var body struct {
		In struct {
			ID []string `json:"id"`
		} `json:"in"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	apps, err := s.Engine.Apps()
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []AppView{}
	for _, a := range apps {
		if canSee(r, a) && slices.ContainsFunc(body.In.ID, func(id string) bool { return id == a.ID || id == a.Name }) {
			out = append(out, s.view(a))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) pipelineView(p *engine.Pipeline) PipelineView {
	v := PipelineView{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	v.Owner.ID, v.Owner.Type = accountID, "user"
	if u, err := s.Engine.User(p.Owner); err == nil {
		v.Owner.ID = u.ID
	}
	return v
}

func (s *Server) couplingView(c *engine.PipelineCoupling) CouplingView {
	v := CouplingView{ID: c.ID, App: AppRef{Name: c.App}, Pipeline: PipelineRef{ID: c.Pipeline}, Stage: c.Stage, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if p, _, err := s.Engine.Pipeline(c.Pipeline); err == nil {
		v.Pipeline.Name = p.Name
	}
	if a, err := s.Engine.App(c.App); err == nil {
		v.App.ID, v.Release = a.ID, a.CurrentRelease
		if rel, err := s.Engine.Release(a.Name, 0); err == nil && rel.SlugID != "" {
			if sl, err := s.Engine.Slug(rel.SlugID); err == nil {
				v.Commit = sl.Commit
			}
		}
	}
	return v
}

func (s *Server) promotionView(p *engine.PipelinePromotion) PromotionView {
	v := PromotionView{ID: p.ID, Pipeline: IDRef{p.Pipeline}, Status: p.Status, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	v.Source.App = s.appRef(p.SourceApp)
	v.Source.Release = IDRef{p.SourceApp + "-v" + strconv.Itoa(p.SourceRelease)}
	v.Targets = []PromotionTargetView{}
	for _, t := range p.Targets {
		tv := PromotionTargetView{ID: t.ID, App: s.appRef(t.App), PipelinePromotion: IDRef{p.ID}, Status: t.Status, Version: t.Release}
		if t.Release > 0 {
			tv.Release = &IDRef{t.App + "-v" + strconv.Itoa(t.Release)}
		}
		if t.Error != "" {
			msg := t.Error
			tv.ErrorMessage = &msg
		}
		v.Targets = append(v.Targets, tv)
	}
	return v
}

// appRef names an app by id and name; an app gone keeps its name only.
func (s *Server) appRef(name string) AppRef {
	ref := AppRef{Name: name}
	if a, err := s.Engine.App(name); err == nil {
		ref.ID = a.ID
	}
	return ref
}

// appName resolves an app given by name or id, as the Platform API takes
// either.
func (s *Server) appName(ref string) (string, error) {
	if !uuidRe.MatchString(ref) {
		return ref, nil
	}
	apps, err := s.Engine.Apps()
	if err != nil {
		return "", err
	}
	for _, a := range apps {
		if a.ID == ref {
			return a.Name, nil
		}
	}
	return "", engine.Errorf(engine.ENOTFOUND, "Couldn't find that app.")
}

// listPipelines answers GET /pipelines, filtered by name with
// ?eq[name]=NAME as the heroku CLI asks: those the caller may see.
func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request) {
	list, err := s.Engine.Pipelines()
	if err != nil {
		s.fail(w, err)
		return
	}
	name := r.URL.Query().Get("eq[name]")
	out := []PipelineView{}
	for _, p := range list {
		if name != "" && p.Name != name {
			continue
		}
		_, cs, err := s.Engine.Pipeline(p.ID)
		if err != nil {
			s.fail(w, err)
			return
		}
		if s.Engine.CanSeePipeline(userOf(r), p, cs, engine.AccessMember) {
			out = append(out, s.pipelineView(p))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createPipeline(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	p, err := s.Engine.CreatePipeline(body.Name, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.pipelineView(p))
}

func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request) {
	p, _, err := s.Engine.CheckPipelineAccess(s.by(r), r.PathValue("pipeline"), engine.AccessMember)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.pipelineView(p))
}

func (s *Server) deletePipeline(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.Engine.CheckPipelineAccess(s.by(r), r.PathValue("pipeline"), engine.AccessOwner); err != nil {
		s.fail(w, err)
		return
	}
	p, err := s.Engine.DestroyPipeline(r.PathValue("pipeline"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.pipelineView(p))
}

// listCouplings answers a pipeline's couplings, upstream stages first,
// or every coupling: those of the apps the caller may access.
func (s *Server) listCouplings(w http.ResponseWriter, r *http.Request) {
	var list []*engine.PipelineCoupling
	if id := r.PathValue("pipeline"); id != "" {
		_, cs, err := s.Engine.CheckPipelineAccess(s.by(r), id, engine.AccessMember)
		if err != nil {
			s.fail(w, err)
			return
		}
		list = cs
	} else {
		ps, err := s.Engine.Pipelines()
		if err != nil {
			s.fail(w, err)
			return
		}
		for _, p := range ps {
			_, cs, err := s.Engine.Pipeline(p.ID)
			if err != nil {
				s.fail(w, err)
				return
			}
			list = append(list, cs...)
		}
	}
	out := []CouplingView{}
	for _, c := range s.Engine.VisibleCouplings(userOf(r), list) {
		out = append(out, s.couplingView(c))
	}
	writeJSON(w, http.StatusOK, out)
}

// createCoupling takes {"app": NAME|ID, "pipeline": NAME|ID, "stage": S}:
// the caller needs access to the app, and to the pipeline.
func (s *Server) createCoupling(w http.ResponseWriter, r *http.Request) {
	var body struct {
		App      string `json:"app"`
		Pipeline string `json:"pipeline"`
		Stage    string `json:"stage"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	app, err := s.appName(body.App)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.Engine.CheckAccess(s.by(r), app, engine.AccessMember); err != nil {
		s.fail(w, err)
		return
	}
	if _, _, err := s.Engine.CheckPipelineAccess(s.by(r), body.Pipeline, engine.AccessMember); err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.Engine.CouplePipeline(body.Pipeline, app, body.Stage)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.couplingView(c))
}

// coupling finds the coupling (by ID or app name) the request names,
// when the caller may access its app.
func (s *Server) coupling(r *http.Request) (*engine.PipelineCoupling, error) {
	c, err := s.Engine.CouplingOf(r.PathValue("coupling"))
	if err != nil {
		if a, aerr := s.Engine.App(r.PathValue("coupling")); aerr == nil && !canSee(r, a) {
			return nil, s.Engine.CheckAccess(s.by(r), a.Name, engine.AccessMember)
		}
		return nil, err
	}
	if err := s.Engine.CheckAccess(s.by(r), c.App, engine.AccessMember); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Server) getCoupling(w http.ResponseWriter, r *http.Request) {
	c, err := s.coupling(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.couplingView(c))
}

// updateCoupling takes {"stage": S}: the app moves to that stage.
func (s *Server) updateCoupling(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Stage string `json:"stage"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.coupling(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if c, err = s.Engine.CouplePipeline(c.Pipeline, c.App, body.Stage); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.couplingView(c))
}

func (s *Server) deleteCoupling(w http.ResponseWriter, r *http.Request) {
	c, err := s.coupling(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	c, err = s.Engine.UncouplePipeline(c.App)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.couplingView(c))
}

func (s *Server) appCoupling(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Engine.App(r.PathValue("app")); err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.Engine.CouplingOf(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.couplingView(c))
}

// createPromotion takes the Platform API's {"pipeline": {"id"},
// "source": {"app": {"id"}}, "targets": [{"app": {"id"}}]} (names are
// taken for ids) and promotes before it answers: the promotion it
// returns is completed, each target's outcome in its targets. The caller
// needs access to the source and to every target (engine.Promote).
func (s *Server) createPromotion(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Pipeline IDRef `json:"pipeline"`
		Source   struct {
			App IDRef `json:"app"`
		} `json:"source"`
		Targets []struct {
			App IDRef `json:"app"`
		} `json:"targets"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	src, err := s.appName(body.Source.App.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.Engine.CheckAccess(s.by(r), src, engine.AccessMember); err != nil {
		s.fail(w, err)
		return
	}
	if body.Pipeline.ID != "" {
		c, err := s.Engine.CouplingOf(src)
		if err != nil {
			s.fail(w, err)
			return
		}
		p, _, err := s.Engine.Pipeline(body.Pipeline.ID)
		if err != nil {
			s.fail(w, err)
			return
		}
		if p.ID != c.Pipeline {
			s.fail(w, engine.Errorf(engine.EINVALID, "%s is not in pipeline %s.", src, p.Name))
			return
		}
	}
	var targets []string
	for _, t := range body.Targets {
		name, err := s.appName(t.App.ID)
		if err != nil {
			s.fail(w, err)
			return
		}
		targets = append(targets, name)
	}
	p, err := s.Engine.Promote(r.Context(), src, targets, s.by(r), nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.promotionView(p))
}

// promotion finds the promotion the request names, when the caller may
// access its source app.
func (s *Server) promotion(r *http.Request) (*engine.PipelinePromotion, error) {
	p, err := s.Engine.Promotion(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if err := s.Engine.CheckAccess(s.by(r), p.SourceApp, engine.AccessMember); err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Server) getPromotion(w http.ResponseWriter, r *http.Request) {
	p, err := s.promotion(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.promotionView(p))
}

func (s *Server) listPromotionTargets(w http.ResponseWriter, r *http.Request) {
	p, err := s.promotion(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.promotionView(p).Targets)
}

// pipelineDiff answers GET /apps/APP/pipeline-diff (hako's own): the
// app against each app of the next stage.
func (s *Server) pipelineDiff(w http.ResponseWriter, r *http.Request) {
	d, err := s.Engine.PipelineDiff(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
