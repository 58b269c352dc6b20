package api

import (
	"net/http"
	"time"

	"hako/engine"
)

// SchedulerJobView is a scheduler job as the API shows it.
type SchedulerJobView struct {
	ID         string     `json:"id"`
	Schedule   string     `json:"schedule"`
	Command    string     `json:"command"`
	Declared   bool       `json:"declared"`
	CreatedAt  time.Time  `json:"created_at"`
	NextRun    *time.Time `json:"next_run"`
	LastRun    *time.Time `json:"last_run"`
	LastDyno   string     `json:"last_dyno,omitempty"`
	LastStatus *int       `json:"last_status"`
}

func jobView(j *engine.SchedulerJob) SchedulerJobView {
	v := SchedulerJobView{ID: j.ID, Schedule: j.Schedule, Command: j.Command, Declared: j.Declared, CreatedAt: j.CreatedAt, LastDyno: j.LastDyno}
	if !j.NextRun.IsZero() {
		t := j.NextRun
		v.NextRun = &t
	}
	if !j.LastRun.IsZero() {
		t, st := j.LastRun, j.LastStatus
		v.LastRun = &t
		if st >= 0 {
			v.LastStatus = &st
		}
	}
	return v
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	jobs, err := s.Engine.SchedulerJobs(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []SchedulerJobView{}
	for _, j := range jobs {
		out = append(out, jobView(j))
	}
	writeJSON(w, http.StatusOK, out)
}

// addJob takes {"schedule": "@daily", "command": "bin/cleanup"}.
func (s *Server) addJob(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Schedule string `json:"schedule"`
		Command  string `json:"command"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	j, err := s.Engine.AddSchedulerJob(r.PathValue("app"), body.Schedule, body.Command, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, jobView(j))
}

func (s *Server) removeJob(w http.ResponseWriter, r *http.Request) {
	if err := s.Engine.RemoveSchedulerJob(r.PathValue("app"), r.PathValue("id"), s.by(r)); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
}

// runJob starts a run of a job now and answers with its dyno's name.
func (s *Server) runJob(w http.ResponseWriter, r *http.Request) {
	name, err := s.Engine.RunSchedulerJob(r.PathValue("app"), r.PathValue("id"), s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"dyno": name})
}
