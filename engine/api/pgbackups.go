package api

import (
	"net/http"
	"os"
	"strconv"
	"time"

	"hako/engine"
)

// PGBackupView is a backup of a PostgreSQL add-on (hako's own resource,
// after the heroku CLI's pg:backups).
type PGBackupView struct {
	ID        string    `json:"id"`
	App       string    `json:"app"`
	Addon     string    `json:"addon"`
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"created_at"`
	// Dropped lists, for a capture, the oldest backups removed to keep
	// within the limit.
	Dropped []string `json:"dropped,omitempty"`
	// Running says the backup is being taken (Size is its bytes so far).
	Running bool `json:"running,omitempty"`
}

func (s *Server) pgRoutes(mux *routes) {
	mux.HandleFunc("GET /apps/{app}/pg-backups", s.listBackups)
	mux.HandleFunc("GET /apps/{app}/pg-transfers", s.listPGTransfers)
	mux.HandleFunc("POST /apps/{app}/pg-backups", s.captureBackup)
	mux.HandleFunc("GET /apps/{app}/pg-backups/{id}/download", s.downloadBackup)
	mux.HandleFunc("POST /apps/{app}/pg-backups/actions/restore", s.restoreBackup)
	mux.HandleFunc("POST /apps/{app}/pg-backups/actions/cancel", s.cancelBackup)
	mux.HandleFunc("POST /apps/{app}/pg-actions/pull", s.pullDatabase)
	mux.HandleFunc("POST /apps/{app}/pg-actions/push", s.pushDatabase)
	mux.HandleFunc("GET /apps/{app}/pg-databases", s.pgDatabases)
	mux.HandleFunc("POST /apps/{app}/pg-actions/rotate-credentials", s.rotateCredentials)
}

// PGDatabaseView is a PostgreSQL add-on as an app attached to it sees it
// (hako's own resource, for `hako pg:info`): its config vars on that app
// and the rows of the Data API's info.
type PGDatabaseView struct {
	App        string    `json:"app"`
	Addon      AddonRef  `json:"addon"`
	ConfigVars []string  `json:"config_vars"`
	Info       []InfoRow `json:"info"`
}

// AddonRef names an add-on and the app that owns it.
type AddonRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	App  AppRef `json:"app"`
}

// pgDatabases is GET /apps/{app}/pg-databases[?database=DATABASE]: the
// PostgreSQL add-ons attached to the app, or the one named, found as the
// pg commands find it (an attachment, its config var, the add-on's name;
// OTHER::DATABASE through another app, which needs access to it too).
func (s *Server) pgDatabases(w http.ResponseWriter, r *http.Request) {
	list, err := s.Engine.PGDatabases(r.PathValue("app"), r.URL.Query().Get("database"), s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []PGDatabaseView{}
	for _, d := range list {
		out = append(out, PGDatabaseView{App: d.App, Addon: AddonRef{ID: d.Addon.ID, Name: d.Addon.Name, App: s.appRef(d.Addon.App)},
			ConfigVars: d.ConfigVars, Info: s.dataInfo(r, &d.Addon)})
	}
	writeJSON(w, http.StatusOK, out)
}

func backupView(b engine.PGBackup) PGBackupView {
	return PGBackupView{ID: b.ID, App: b.App, Addon: b.Addon, Size: b.Size, CreatedAt: b.CreatedAt, Running: b.Running}
}

func (s *Server) listBackups(w http.ResponseWriter, r *http.Request) {
	list, err := s.Engine.Backups(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []PGBackupView{}
	for _, b := range list {
		out = append(out, backupView(b))
	}
	writeJSON(w, http.StatusOK, out)
}

// PGTransferView is a restore, a copy or a failed capture of a
// PostgreSQL add-on (hako's own resource, for `hako pg:backups`).
type PGTransferView struct {
	ID         string     `json:"id"` // r002, c003, b004
	Kind       string     `json:"kind"`
	App        string     `json:"app"`
	Addon      string     `json:"addon"`
	From       string     `json:"from"`
	To         string     `json:"to"`
	Size       int64      `json:"size"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// Status is running, succeeded, canceled or failed.
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// listPGTransfers is GET /apps/{app}/pg-transfers: the restores, copies
// and failed captures of the app's databases, oldest first.
func (s *Server) listPGTransfers(w http.ResponseWriter, r *http.Request) {
	list, err := s.Engine.Transfers(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []PGTransferView{}
	for _, t := range list {
		v := PGTransferView{ID: t.Name(), Kind: t.Kind, App: t.App, Addon: t.Addon, From: t.From, To: t.To, Size: t.Size,
			CreatedAt: t.CreatedAt, Status: "running", Message: t.Message}
		if !t.Running() {
			end := t.FinishedAt
			v.FinishedAt = &end
			switch {
			case t.Succeeded:
				v.Status = "succeeded"
			case t.Canceled:
				v.Status = "canceled"
			default:
				v.Status = "failed"
			}
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
}

// captureBackup takes {"attachment": "DATABASE"} (optional).
func (s *Server) captureBackup(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Attachment string `json:"attachment"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	b, dropped, err := s.Engine.CaptureBackup(r.Context(), r.PathValue("app"), body.Attachment, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	v := backupView(*b)
	v.Dropped = dropped
	writeJSON(w, http.StatusCreated, v)
}

// downloadBackup sends a backup's pg_dump file ("latest" for the
// newest).
func (s *Server) downloadBackup(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	if ref == "latest" {
		ref = ""
	}
	b, err := s.Engine.Backup(r.PathValue("app"), ref, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	f, err := os.Open(b.Path)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(b.Size, 10))
	w.Header().Set("Content-Disposition", "attachment; filename="+b.ID+".dump")
	http.ServeContent(w, r, b.ID+".dump", b.CreatedAt, f)
}

// restoreBackup takes {"backup": "b001" | "APP::b001" | "", "attachment":
// "DATABASE", "confirm": APP}: without confirm naming the app, nothing
// happens.
func (s *Server) restoreBackup(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Backup     string `json:"backup"`
		Attachment string `json:"attachment"`
		Confirm    string `json:"confirm"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	b, err := s.Engine.RestoreBackup(r.Context(), r.PathValue("app"), body.Backup, body.Attachment, body.Confirm, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, backupView(*b))
}

// cancelBackup takes {"backup": "b001" | "r002" | "c003" | ""}: the
// capture, restore or copy under way, or the newest of them, is stopped.
func (s *Server) cancelBackup(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Backup string `json:"backup"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	id, err := s.Engine.CancelAppBackup(r.PathValue("app"), body.Backup, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, PGBackupView{ID: id, App: r.PathValue("app")})
}

// pullDatabase takes {"url": SOURCE, "attachment", "confirm": APP}.
func (s *Server) pullDatabase(w http.ResponseWriter, r *http.Request) {
	var body struct {
		URL        string `json:"url"`
		Attachment string `json:"attachment"`
		Confirm    string `json:"confirm"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.Engine.PullDatabase(r.Context(), r.PathValue("app"), body.URL, body.Attachment, body.Confirm, s.by(r)); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"app": r.PathValue("app")})
}

// pushDatabase takes {"url": TARGET, "attachment"}.
func (s *Server) pushDatabase(w http.ResponseWriter, r *http.Request) {
	var body struct {
		URL        string `json:"url"`
		Attachment string `json:"attachment"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.Engine.PushDatabase(r.Context(), r.PathValue("app"), body.URL, body.Attachment, s.by(r)); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"app": r.PathValue("app")})
}
