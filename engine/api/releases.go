package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"hako/engine"
)

// ReleaseView is a release in the Platform API's shape. Commit and
// AppJSON are hako's own.
type ReleaseView struct {
	ID                  string    `json:"id"`
	Version             int       `json:"version"`
	Description         string    `json:"description"`
	Status              string    `json:"status"`
	Current             bool      `json:"current"`
	EligibleForRollback bool      `json:"eligible_for_rollback"`
	App                 AppRef    `json:"app"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	User                Owner     `json:"user"`
	Slug                *IDRef    `json:"slug"`
	AddonPlanNames      []string  `json:"addon_plan_names"`
	// OutputStreamURL streams the output of the release's release phase
	// (null when its slug declares none), kept for the server's life.
	OutputStreamURL *string `json:"output_stream_url"`
	Commit          string  `json:"commit,omitempty"`
	// AppJSON is the app.json the release's slug was built with.
	AppJSON json.RawMessage `json:"app_json,omitempty"`
	// SlugRemoved says the release's slug is no longer kept (see
	// --keep-slugs): it cannot be rolled back to.
	SlugRemoved bool `json:"slug_removed,omitempty"`
}

func (s *Server) releaseView(r *http.Request, app *engine.App, rel *engine.Release) ReleaseView {
	v := ReleaseView{ID: rel.ID, Version: rel.Version, Description: rel.Description,
		Status: rel.Status, Current: rel.Version == app.CurrentRelease,
		App: AppRef{ID: app.ID, Name: app.Name}, CreatedAt: rel.CreatedAt, UpdatedAt: rel.UpdatedAt,
		User: s.owner(rel.User), AddonPlanNames: []string{}}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = rel.CreatedAt
	}
	// A release can be returned to when it ran code and did not fail.
	v.EligibleForRollback = rel.SlugID != "" && rel.Status == engine.ReleaseSucceeded
	for _, a := range app.Addons {
		v.AddonPlanNames = append(v.AddonPlanNames, a.Service+":"+a.Plan)
	}
	if rel.SlugID != "" {
		v.Slug = &IDRef{rel.SlugID}
		slug, err := s.Engine.Slug(rel.SlugID)
		phase := false
		if engine.ErrorCode(err) == engine.ENOTFOUND {
			v.SlugRemoved, v.EligibleForRollback = true, false
			// A failed release's slug goes first; what its release
			// phase printed stays readable while it is kept.
			phase = s.Engine.ReleaseOutputKept(app, rel.ID)
		}
		if err == nil {
			v.Commit = slug.Commit
			v.AppJSON = slug.AppJSON
			phase = slug.ProcessTypes[engine.ReleasePhaseType] != ""
		}
		if phase {
			u := baseURL(r) + "/release-output/" + rel.ID + "?" + s.expiringQuery("release", rel.ID)
			v.OutputStreamURL = &u
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
		out = append(out, s.releaseView(r, app, rel))
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
		return 0, engine.Errorf(engine.EINVALID, "%q is not a release version: use v3 or 3, or the release's id.", s)
	}
	return n, nil
}

// findRelease finds one of the app's releases by version (3, v3,
// current), by id, or by APP-vN (what earlier hako answered as ids).
func (s *Server) findRelease(app *engine.App, ref string) (*engine.Release, error) {
	if uuidRe.MatchString(ref) {
		rels, err := s.Engine.Releases(app.Name)
		if err != nil {
			return nil, err
		}
		for _, r := range rels {
			if r.ID == ref {
				return r, nil
			}
		}
		return nil, engine.Errorf(engine.ENOTFOUND, "Couldn't find that release: %s has no release %s.", app.Name, ref)
	}
	v, err := parseVersion(strings.TrimPrefix(ref, app.Name+"-"))
	if err != nil {
		return nil, err
	}
	return s.Engine.Release(app.Name, v)
}

func (s *Server) getRelease(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	rel, err := s.findRelease(app, r.PathValue("version"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.releaseView(r, app, rel))
}

// getReleaseConfig is GET /apps/{app}/releases/{version}/config-vars:
// the config vars the release ran with (`heroku releases:info -s`).
func (s *Server) getReleaseConfig(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	rel, err := s.findRelease(app, r.PathValue("version"))
	if err != nil {
		s.fail(w, err)
		return
	}
	cfg := rel.Config
	if cfg == nil {
		cfg = map[string]string{}
	}
	writeJSON(w, http.StatusOK, cfg)
}

// createRelease is Heroku's POST /apps/{app}/releases: {"release": REF}
// rolls back to that release (a version, v3, or its id), {"slug": ID}
// releases a slug (one built here, or imported through POST
// /apps/{app}/slugs) with the current config vars. One of the two is
// required: an empty body must not roll an app back.
func (s *Server) createRelease(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Release     string  `json:"release"`
		Slug        string  `json:"slug"`
		Description *string `json:"description"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	var rel *engine.Release
	switch rel_, slug := strings.TrimSpace(body.Release), strings.TrimSpace(body.Slug); {
	case rel_ != "" && slug != "":
		s.fail(w, engine.Errorf(engine.EINVALID, `Give either "release" (to roll back) or "slug" (to release it), not both.`))
		return
	case slug != "":
		desc := ""
		if body.Description != nil {
			if err := engine.ValidateText("description", *body.Description, 256); err != nil {
				s.fail(w, err)
				return
			}
			desc = *body.Description
		}
		rel, err = s.releaseSlug(r, app.Name, slug, desc)
	case rel_ != "":
		var target *engine.Release
		if target, err = s.findRelease(app, rel_); err == nil {
			rel, err = s.Engine.Rollback(r.Context(), app.Name, s.by(r), target.Version, nil)
		}
	default:
		err = engine.Errorf(engine.EINVALID, `Missing "release" or "slug": give the release to roll back to, {"release": "v3"}, or a slug to release, {"slug": ID}.`)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	if app, err = s.Engine.App(rel.App); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.releaseView(r, app, rel))
}

// readReleaseOutput is GET /release-output/{id}?expires=…&sig=…: the
// release phase's output as it happens, in plain text, until it ends,
// while the URL has not expired.
func (s *Server) readReleaseOutput(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var out *engine.PhaseLog
	if s.signedUnexpired("release", id, r) {
		out = s.Engine.ReleaseOutput(id)
	}
	if out == nil {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "No output is kept for this release: it had no release phase, or its app keeps the output of later ones only (the last 100)."))
		return
	}
	streamText(w, r, out.Read)
}

// streamText answers a growing text (a build's or a release phase's
// output) as it grows: read gives what follows the first sent bytes,
// whether the text is complete, and a channel closed when it changes.
// It ends when the text is complete or the client leaves.
func streamText(w http.ResponseWriter, r *http.Request, read func(sent int) (chunk []byte, done bool, changed <-chan struct{})) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	sent := 0
	for {
		chunk, done, changed := read(sent)
		if len(chunk) > 0 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			sent += len(chunk)
			flush(w)
		}
		if done {
			return
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}
