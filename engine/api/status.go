package api

import "net/http"

// status answers GET /status: the server's version, uptime, isolation,
// apps, dynos by state, disk use and add-on servers (`hako status`).
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.Engine.Status()
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
