package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"hako/engine"
)

func (s *Server) getFormation(w http.ResponseWriter, r *http.Request) {
	f, err := s.Engine.Formation(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.formationViews(r.PathValue("app"), f))
}

// patchFormation takes {"updates": [{"type": "web", "quantity": 3}]}. An
// update with only a size changes nothing (hako runs one size) but must
// name a size Heroku knows and a process type the app has.
func (s *Server) patchFormation(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Updates []struct {
			Type     string    `json:"type"`
			Quantity *quantity `json:"quantity"`
			Size     *string   `json:"size"`
		} `json:"updates"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	name := r.PathValue("app")
	updates := map[string]int{}
	var sized []string
	for _, u := range body.Updates {
		if err := checkSize(u.Size); err != nil {
			s.fail(w, err)
			return
		}
		switch {
		case u.Quantity != nil:
			updates[u.Type] = int(*u.Quantity)
		case u.Size != nil:
			sized = append(sized, u.Type)
		default:
			s.fail(w, engine.Errorf(engine.EINVALID, "Formation update for %q has neither quantity nor size.", u.Type))
			return
		}
	}
	if len(updates) == 0 && len(sized) == 0 {
		s.fail(w, engine.Errorf(engine.EINVALID, "No formation updates given: use TYPE=QUANTITY, e.g. web=2."))
		return
	}
	f, err := s.Engine.Formation(name)
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, t := range sized {
		if !slices.ContainsFunc(f, func(e engine.FormationEntry) bool { return e.Type == t }) {
			s.fail(w, engine.Errorf(engine.ENOTFOUND, "%s has no process type %s.", name, t))
			return
		}
	}
	if len(updates) > 0 {
		if f, err = s.Engine.Scale(r.Context(), name, s.by(r), updates); err != nil {
			s.fail(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, s.formationViews(name, f))
}

// restartDynos restarts all dynos (no {dyno}) or a type or one dyno.
func (s *Server) restartDynos(w http.ResponseWriter, r *http.Request) {
	if err := s.Engine.Restart(r.Context(), r.PathValue("app"), s.by(r), r.PathValue("dyno")); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

// quantity is a formation quantity, given as a number or, as the heroku
// CLI sends it, a string of one.
type quantity int

func (q *quantity) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*q = quantity(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return engine.Errorf(engine.EINVALID, "Quantity %q is not a number of dynos.", s)
	}
	*q = quantity(n)
	return nil
}
