package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"hako/engine"
)

// Daily backups (pg:backups:schedule, :schedules, :unschedule): the
// heroku CLI sets and reads them as a database's transfer-schedules in
// the Data API; hako's own commands through /apps/{app}/pg-schedules.
// The server's backup scheduler (scheduler.Backups) runs them.

// ScheduleView is a backup schedule in the Data API's shape, with the
// database it backs up (hako's own listing reads that too).
type ScheduleView struct {
	UUID      string   `json:"uuid"`
	Name      string   `json:"name"`
	Hour      int      `json:"hour"`
	Days      []string `json:"days"`
	Timezone  string   `json:"timezone"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
	// Addon is the database's add-on, App the app that owns it.
	Addon string `json:"addon,omitempty"`
	App   string `json:"app,omitempty"`
}

var everyDay = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

func scheduleView(s engine.PGSchedule, a *engine.Addon) ScheduleView {
	at := dataTime(s.Created)
	return ScheduleView{UUID: s.ID, Name: s.Name, Hour: s.Hour, Days: everyDay, Timezone: s.Timezone, CreatedAt: at, UpdatedAt: at, Addon: a.Name, App: a.App}
}

func (s *Server) scheduleRoutes(mux *routes) {
	mux.HandleFunc("GET /client/v11/databases/{addon}/transfer-schedules", s.dataSchedules)
	mux.HandleFunc("POST /client/v11/databases/{addon}/transfer-schedules", s.dataSchedule)
	mux.HandleFunc("DELETE /client/v11/databases/{addon}/transfer-schedules/{schedule}", s.dataUnschedule)
	mux.HandleFunc("GET /apps/{app}/pg-schedules", s.listSchedules)
	mux.HandleFunc("POST /apps/{app}/pg-schedules", s.schedule)
	mux.HandleFunc("DELETE /apps/{app}/pg-schedules/{database}", s.unschedule)
}

// dataSchedules is GET /client/v11/databases/{addon}/transfer-schedules
// (pg:backups:schedules): the database's schedule, if it has one.
func (s *Server) dataSchedules(w http.ResponseWriter, r *http.Request) {
	a, _, err := s.dataAddon(r, postgresService)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []ScheduleView{}
	if a.BackupSchedule != nil {
		out = append(out, scheduleView(*a.BackupSchedule, a))
	}
	writeJSON(w, http.StatusOK, out)
}

// dataSchedule is POST .../transfer-schedules {"hour": "2", "timezone":
// "Europe/Paris", "schedule_name": "DATABASE_URL"} (pg:backups:schedule),
// through an app of the caller's the database is attached to.
func (s *Server) dataSchedule(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Hour         json.RawMessage `json:"hour"`
		Timezone     string          `json:"timezone"`
		ScheduleName string          `json:"schedule_name"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	a, _, err := s.dataAddon(r, postgresService)
	if err != nil {
		s.fail(w, err)
		return
	}
	// The CLI sends the hour as a string; a number will do too.
	hour := strings.Trim(string(body.Hour), `"`)
	sc, err := s.Engine.ScheduleBackups(s.viaApp(r, a), a.ID, hour, body.Timezone, body.ScheduleName, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, scheduleView(*sc, a))
}

// dataUnschedule is DELETE .../transfer-schedules/{uuid}
// (pg:backups:unschedule).
func (s *Server) dataUnschedule(w http.ResponseWriter, r *http.Request) {
	a, _, err := s.dataAddon(r, postgresService)
	if err != nil {
		s.fail(w, err)
		return
	}
	sc, err := s.Engine.Unschedule(s.viaApp(r, a), a.ID, r.PathValue("schedule"), s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, scheduleView(*sc, a))
}

// listSchedules is GET /apps/{app}/pg-schedules: the schedules of the
// databases attached to the app.
func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	list, err := s.Engine.BackupSchedules(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []ScheduleView{}
	for _, d := range list {
		out = append(out, scheduleView(d.Schedule, &d.Addon))
	}
	writeJSON(w, http.StatusOK, out)
}

// schedule is POST /apps/{app}/pg-schedules {"database": "DATABASE",
// "at": "02:00 Europe/Paris"}.
func (s *Server) schedule(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Database string `json:"database"`
		At       string `json:"at"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	hour, zone, err := engine.ParseAt(body.At)
	if err != nil {
		s.fail(w, err)
		return
	}
	sc, err := s.Engine.ScheduleBackups(r.PathValue("app"), body.Database, hour, zone, "", s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, ScheduleView{UUID: sc.ID, Name: sc.Name, Hour: sc.Hour, Days: everyDay, Timezone: sc.Timezone,
		CreatedAt: dataTime(sc.Created), UpdatedAt: dataTime(time.Now())})
}

// unschedule is DELETE /apps/{app}/pg-schedules/{database}.
func (s *Server) unschedule(w http.ResponseWriter, r *http.Request) {
	sc, err := s.Engine.Unschedule(r.PathValue("app"), r.PathValue("database"), "", s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ScheduleView{UUID: sc.ID, Name: sc.Name, Hour: sc.Hour, Days: everyDay, Timezone: sc.Timezone,
		CreatedAt: dataTime(sc.Created), UpdatedAt: dataTime(time.Now())})
}
