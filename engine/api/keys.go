package api

import (
	"net/http"

	"hako/engine"
)

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.Engine.Keys(userOf(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []KeyView{}
	for _, k := range keys {
		out = append(out, s.keyView(k))
	}
	writeJSON(w, http.StatusOK, out)
}

// createKey registers a key to the caller's own account.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PublicKey string `json:"public_key"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	k, err := s.Engine.AddKey(s.by(r), body.PublicKey)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.keyView(k))
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	if err := s.Engine.RemoveKey(userOf(r), r.PathValue("key")); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// account is the Platform API's account: the caller's.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, accountView(userOf(r)))
}

func accountView(u *engine.User) map[string]any {
	return map[string]any{"id": u.ID, "email": u.Email, "name": u.Email, "verified": true, "admin": u.Admin, "created_at": u.CreatedAt}
}

// userAccount answers GET /users/{user}: the caller's account for "~",
// their email or id (the heroku CLI's pipelines:create asks for
// /users/~); another user's only to an administrator.
func (s *Server) userAccount(w http.ResponseWriter, r *http.Request) {
	me, ref := userOf(r), r.PathValue("user")
	if ref == "~" || ref == me.Email || ref == me.ID {
		writeJSON(w, http.StatusOK, accountView(me))
		return
	}
	if !me.Admin {
		s.fail(w, engine.Errorf(engine.EFORBIDDEN, "Only an administrator may do that."))
		return
	}
	u, err := s.Engine.User(ref)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, accountView(u))
}

// accountID is the administrator's id.
const accountID = "00000000-0000-4000-8000-000000000000"
