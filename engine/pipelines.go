package engine

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"time"
)

// A pipeline groups apps that run the same code at different stages
// (development, staging, production), as Heroku's do: a slug tested on
// staging is promoted to production as it is, never rebuilt, and runs
// there with production's own config vars.

// Pipeline stages, upstream first, as Heroku names them.
var PipelineStages = []string{"development", "staging", "production"}

// Pipeline is a named group of apps by stage.
type Pipeline struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Owner is the email of the user who created the pipeline (none for
	// a pipeline made before pipelines had owners); see
	// CheckPipelineAccess for what it may do.
	Owner     string    `json:"owner,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PipelineCoupling puts one app in one stage of a pipeline; an app is in
// at most one pipeline.
type PipelineCoupling struct {
	ID        string    `json:"id"`
	Pipeline  string    `json:"pipeline"` // the pipeline's ID
	App       string    `json:"app"`
	Stage     string    `json:"stage"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PipelinePromotion is one promotion of a source app's release to the
// apps downstream of it, with the outcome on each.
type PipelinePromotion struct {
	ID            string            `json:"id"`
	Pipeline      string            `json:"pipeline"`
	SourceApp     string            `json:"source_app"`
	SourceRelease int               `json:"source_release"`
	Status        string            `json:"status"` // pending, completed
	Targets       []PromotionTarget `json:"targets"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

// PromotionTarget is a promotion's outcome on one app.
type PromotionTarget struct {
	ID      string `json:"id"`
	App     string `json:"app"`
	Status  string `json:"status"` // pending, succeeded, failed
	Release int    `json:"release,omitempty"`
	Error   string `json:"error_message,omitempty"`
}

// PipelineStore keeps pipelines, their couplings and promotions; the
// store implements it, one transaction per method.
type PipelineStore interface {
	// CreatePipeline records p. Returns ECONFLICT if its name is taken.
	CreatePipeline(p *Pipeline) error
	// Pipeline returns the pipeline with that ID or name. Returns ENOTFOUND.
	Pipeline(idOrName string) (*Pipeline, error)
	// Pipelines returns every pipeline, by name.
	Pipelines() ([]*Pipeline, error)
	// DeletePipeline removes a pipeline and its couplings. Returns ENOTFOUND.
	DeletePipeline(id string) error
	// Couplings returns the couplings of a pipeline ("" for all).
	Couplings(pipeline string) ([]*PipelineCoupling, error)
	// PutCoupling records c, replacing the app's coupling if it has one.
	// Returns ENOTFOUND when its app or pipeline is gone.
	PutCoupling(c *PipelineCoupling) error
	// DeleteCoupling removes the app's coupling. Returns ENOTFOUND.
	DeleteCoupling(app string) error
	// PutPromotion records a promotion, new or changed.
	PutPromotion(p *PipelinePromotion) error
	// Promotion returns one promotion. Returns ENOTFOUND.
	Promotion(id string) (*PipelinePromotion, error)
}

var pipelineNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{1,28}[a-z0-9]$`)

func (e *Engine) pipelines() (PipelineStore, error) {
	ps, ok := e.Store.(PipelineStore)
	if !ok {
		return nil, Errorf(EINVALID, "This server keeps no pipelines.")
	}
	return ps, nil
}

// CreatePipeline records a new, empty pipeline owned by owner (an
// email). Returns EINVALID or ECONFLICT.
func (e *Engine) CreatePipeline(name, owner string) (*Pipeline, error) {
	if !pipelineNameRe.MatchString(name) {
		return nil, Errorf(EINVALID, "Pipeline name %q is invalid: it must start with a letter, end with a letter or digit, use only lowercase letters, digits and dashes, and be 3 to 30 characters long.", name)
	}
	ps, err := e.pipelines()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	p := &Pipeline{ID: newID(), Name: name, Owner: owner, CreatedAt: now, UpdatedAt: now}
	count := func() (int, error) {
		all, err := ps.Pipelines()
		n := 0
		for _, o := range all {
			if o.Owner == owner {
				n++
			}
		}
		return n, err
	}
	refusal := Errorf(EINVALID, "You own %d pipelines, as many as a user may: destroy one with `hako pipelines:destroy`.", MaxPipelinesPerUser)
	if err := e.withinBound(count, MaxPipelinesPerUser, refusal, func() error { return ps.CreatePipeline(p) }); err != nil {
		return nil, err
	}
	return p, nil
}

// Pipeline returns a pipeline by ID or name with its couplings, upstream
// stages first. Returns ENOTFOUND.
func (e *Engine) Pipeline(idOrName string) (*Pipeline, []*PipelineCoupling, error) {
	ps, err := e.pipelines()
	if err != nil {
		return nil, nil, err
	}
	p, err := ps.Pipeline(idOrName)
	if err != nil {
		return nil, nil, err
	}
	cs, err := ps.Couplings(p.ID)
	if err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(cs, func(a, b *PipelineCoupling) int {
		if d := stageIndex(a.Stage) - stageIndex(b.Stage); d != 0 {
			return d
		}
		if a.App < b.App {
			return -1
		}
		return 1
	})
	return p, cs, nil
}

// Pipelines lists every pipeline.
func (e *Engine) Pipelines() ([]*Pipeline, error) {
	ps, err := e.pipelines()
	if err != nil {
		return nil, err
	}
	return ps.Pipelines()
}

// DestroyPipeline removes a pipeline; its apps stay. Returns ENOTFOUND.
func (e *Engine) DestroyPipeline(idOrName string) (*Pipeline, error) {
	ps, err := e.pipelines()
	if err != nil {
		return nil, err
	}
	p, err := ps.Pipeline(idOrName)
	if err != nil {
		return nil, err
	}
	return p, ps.DeletePipeline(p.ID)
}

// CouplePipeline puts app in a stage of a pipeline (moving it out of any
// other). Returns EINVALID or ENOTFOUND.
func (e *Engine) CouplePipeline(pipeline, app, stage string) (*PipelineCoupling, error) {
	if stageIndex(stage) < 0 {
		return nil, Errorf(EINVALID, "Stage %q is invalid: use development, staging or production.", stage)
	}
	a, err := e.App(app)
	if err != nil {
		return nil, err
	}
	ps, err := e.pipelines()
	if err != nil {
		return nil, err
	}
	p, err := ps.Pipeline(pipeline)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	c := &PipelineCoupling{ID: newID(), Pipeline: p.ID, App: a.Name, Stage: stage, CreatedAt: now, UpdatedAt: now}
	if old, _ := e.CouplingOf(a.Name); old != nil {
		c.ID, c.CreatedAt = old.ID, old.CreatedAt
	}
	if err := ps.PutCoupling(c); err != nil {
		return nil, err
	}
	return c, nil
}

// CouplingOf returns the app's coupling. Returns ENOTFOUND when the app
// is in no pipeline.
func (e *Engine) CouplingOf(app string) (*PipelineCoupling, error) {
	ps, err := e.pipelines()
	if err != nil {
		return nil, err
	}
	cs, err := ps.Couplings("")
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.App == app || c.ID == app {
			return c, nil
		}
	}
	return nil, Errorf(ENOTFOUND, "%s is not in a pipeline: `hako pipelines:add PIPELINE -a %s --stage staging` adds it.", app, app)
}

// UncouplePipeline takes an app out of its pipeline. Returns ENOTFOUND.
func (e *Engine) UncouplePipeline(app string) (*PipelineCoupling, error) {
	c, err := e.CouplingOf(app)
	if err != nil {
		return nil, err
	}
	ps, _ := e.pipelines()
	return c, ps.DeleteCoupling(c.App)
}

// stageIndex is a stage's place, upstream first; -1 for none.
func stageIndex(stage string) int { return slices.Index(PipelineStages, stage) }

// downstream returns the apps a promotion from source goes to: targets
// when given (each must be in source's pipeline), else every app of the
// next stage that has apps.
func (e *Engine) downstream(source *PipelineCoupling, targets []string) ([]string, error) {
	_, cs, err := e.Pipeline(source.Pipeline)
	if err != nil {
		return nil, err
	}
	if len(targets) > 0 {
		for _, t := range targets {
			if t == source.App {
				return nil, Errorf(EINVALID, "%s cannot be promoted to itself.", t)
			}
			if !slices.ContainsFunc(cs, func(c *PipelineCoupling) bool { return c.App == t }) {
				return nil, Errorf(EINVALID, "%s is not in the pipeline of %s.", t, source.App)
			}
		}
		return targets, nil
	}
	for next := stageIndex(source.Stage) + 1; next < len(PipelineStages); next++ {
		var out []string
		for _, c := range cs {
			if c.Stage == PipelineStages[next] {
				out = append(out, c.App)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, Errorf(EINVALID, "%s is in the last stage of its pipeline (%s): there is nothing downstream to promote to.", source.App, source.Stage)
}

// Promote releases the source app's current slug on each target (by
// default the apps of the next stage), as it is: no rebuild, each
// target's own config vars, "Promote SOURCE vN" as the description, the
// release phase included. A target that fails does not stop the others;
// the promotion records each outcome. user must have access to the
// source and to every target: a target out of their reach refuses the
// whole promotion (EFORBIDDEN, in Heroku's words) before anything is
// released or recorded. Returns EINVALID, ENOTFOUND or EFORBIDDEN.
func (e *Engine) Promote(ctx context.Context, source string, targets []string, user string, out io.Writer) (*PipelinePromotion, error) {
	if out == nil {
		out = io.Discard
	}
	if err := e.CheckAccess(user, source, AccessMember); err != nil {
		return nil, err
	}
	src, err := e.App(source)
	if err != nil {
		return nil, err
	}
	coupling, err := e.CouplingOf(src.Name)
	if err != nil {
		return nil, err
	}
	to, err := e.downstream(coupling, targets)
	if err != nil {
		return nil, err
	}
	for _, t := range to {
		if err := e.CheckAccess(user, t, AccessMember); err != nil {
			return nil, err
		}
	}
	rel, err := e.Store.Release(src.Name, src.CurrentRelease)
	if err != nil {
		return nil, err
	}
	if rel.SlugID == "" {
		return nil, Errorf(EINVALID, "%s has no code released yet: deploy it before promoting it.", src.Name)
	}
	ps, _ := e.pipelines()
	now := time.Now().UTC()
	promo := &PipelinePromotion{ID: newID(), Pipeline: coupling.Pipeline, SourceApp: src.Name, SourceRelease: rel.Version,
		Status: "pending", CreatedAt: now, UpdatedAt: now}
	for _, t := range to {
		promo.Targets = append(promo.Targets, PromotionTarget{ID: newID(), App: t, Status: "pending"})
	}
	if err := ps.PutPromotion(promo); err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("Promote %s v%d", src.Name, rel.Version)
	for i := range promo.Targets {
		t := &promo.Targets[i]
		r, err := e.promoteTo(ctx, t.App, rel.SlugID, desc, user, out)
		if err != nil {
			t.Status, t.Error = "failed", ErrorMessage(err)
			if ErrorCode(err) == EINTERNAL {
				e.logf("promote %s to %s: %v", src.Name, t.App, err)
			}
			continue
		}
		t.Status, t.Release = "succeeded", r.Version
	}
	promo.Status, promo.UpdatedAt = "completed", time.Now().UTC()
	if err := ps.PutPromotion(promo); err != nil {
		return nil, err
	}
	return promo, nil
}

// promoteTo writes, under the target's lock, the release that runs slug
// with the target's own config vars, and moves the target onto it.
func (e *Engine) promoteTo(ctx context.Context, target, slugID, desc, user string, out io.Writer) (*Release, error) {
	if _, err := e.App(target); err != nil {
		return nil, err
	}
	defer e.lock(target)()
	fmt.Fprintf(out, "-----> Promoting to %s\n", target)
	return e.next(ctx, target, user, out, func(app *App, cur *Release) (*Release, error) {
		return &Release{SlugID: slugID, Config: cur.Config, Description: desc}, nil
	})
}

// Promotion returns one promotion. Returns ENOTFOUND.
func (e *Engine) Promotion(id string) (*PipelinePromotion, error) {
	ps, err := e.pipelines()
	if err != nil {
		return nil, err
	}
	return ps.Promotion(id)
}

// StageDiff compares an app with one app downstream of it: the commit
// each runs and the commits the upstream one has that the other lacks.
type StageDiff struct {
	App          string   `json:"app"`
	Target       string   `json:"target"`
	AppCommit    string   `json:"app_commit"`
	TargetCommit string   `json:"target_commit"`
	Commits      []string `json:"commits"`
	// Unknown says why the commits could not be listed ("" when they
	// were).
	Unknown string `json:"unknown,omitempty"`
}

// PipelineDiff compares app with each app of the next stage of its
// pipeline (pipelines:diff). Returns ENOTFOUND or EINVALID.
func (e *Engine) PipelineDiff(app string) ([]StageDiff, error) {
	src, err := e.App(app)
	if err != nil {
		return nil, err
	}
	coupling, err := e.CouplingOf(src.Name)
	if err != nil {
		return nil, err
	}
	to, err := e.downstream(coupling, nil)
	if err != nil {
		return nil, err
	}
	srcCommit := e.currentCommit(src)
	var out []StageDiff
	for _, t := range to {
		d := StageDiff{App: src.Name, Target: t, AppCommit: srcCommit}
		ta, err := e.App(t)
		if err != nil {
			return nil, err
		}
		d.TargetCommit = e.currentCommit(ta)
		switch {
		case srcCommit == "":
			d.Unknown = src.Name + " runs no code built from a commit"
		case d.TargetCommit == "":
			d.Unknown = t + " runs no code built from a commit"
		case d.TargetCommit == srcCommit:
		case e.GitLog == nil:
			d.Unknown = "this server cannot read git history"
		default:
			// The repository that holds the commits is the one the
			// slug was built from: an app that got its slug by a
			// promotion has no history of its own.
			repo := src.Name
			if r, err := e.Store.Release(src.Name, src.CurrentRelease); err == nil && r.SlugID != "" {
				if sl, err := e.Store.Slug(r.SlugID); err == nil && sl.App != "" {
					repo = sl.App
				}
			}
			if d.Commits, err = e.GitLog(repo, d.TargetCommit, srcCommit); err != nil {
				e.logf("pipelines:diff %s %s: %v", src.Name, t, err)
				d.Unknown = "the repository of " + src.Name + " does not hold both commits"
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// currentCommit is the commit the app's current release was built from.
func (e *Engine) currentCommit(a *App) string {
	r, err := e.Store.Release(a.Name, a.CurrentRelease)
	if err != nil {
		return ""
	}
	return e.commitOf(r)
}
