package api

import (
	"net/http"
)

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.Engine.Keys()
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

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PublicKey string `json:"public_key"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	k, err := s.Engine.AddKey(body.PublicKey)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.keyView(k))
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	if err := s.Engine.RemoveKey(r.PathValue("key")); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// accountID is the id of hako's one account.
const accountID = "00000000-0000-4000-8000-000000000000"

// account is the Platform API's account: hako has one user, the admin.
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"id": accountID, "email": s.User, "name": s.User, "verified": true})
}
