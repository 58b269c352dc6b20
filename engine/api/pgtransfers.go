package api

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"time"

	"hako/engine"
)

// The heroku CLI's pg:backups commands (pg:backups, :capture, :info,
// :url, :download, :restore, :delete) ask Heroku's Data API for an app's
// transfers. hako answers them from its own backups (engine.Backups): a
// backup is a transfer from pg_dump to storage ("gof3r"), numbered as
// `hako pg:backups` numbers it (b001 is transfer 1), its add-on's, as
// every app it is attached to lists it; its restores (rNNN), copies
// (cNNN) and failed captures are the engine's records (engine.Transfers),
// numbered in the same sequence. Captures, restores and copies run on
// the server past their answer, which the CLI polls.

// TransferView is a transfer in the Data API's shape.
type TransferView struct {
	UUID           string         `json:"uuid"`
	Num            int            `json:"num,omitempty"`
	FromName       string         `json:"from_name"`
	FromType       string         `json:"from_type"`
	ToName         string         `json:"to_name"`
	ToType         string         `json:"to_type"`
	ToURL          string         `json:"to_url,omitempty"`
	Options        map[string]any `json:"options"`
	Succeeded      bool           `json:"succeeded"`
	Warnings       int            `json:"warnings"`
	ProcessedBytes int64          `json:"processed_bytes"`
	SourceBytes    int64          `json:"source_bytes"`
	Schedule       *TransferRef   `json:"schedule"`
	CreatedAt      string         `json:"created_at"`
	StartedAt      string         `json:"started_at"`
	FinishedAt     string         `json:"finished_at"`
	UpdatedAt      string         `json:"updated_at"`
	CanceledAt     *string        `json:"canceled_at"`
	DeletedAt      *string        `json:"deleted_at"`
	Logs           []TransferLog  `json:"logs"`
}

// TransferRef names a transfer's schedule: set on a scheduled backup
// (aNNN), which the heroku CLI tells from one captured by hand (bNNN) by
// it alone.
type TransferRef struct {
	UUID string `json:"uuid"`
}

// TransferLog is a line of a transfer's log.
type TransferLog struct {
	CreatedAt string `json:"created_at"`
	Message   string `json:"message"`
}

// dataTime is the Data API's way of writing a time.
func dataTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 +0000") }

// transferUUID is a backup's transfer id: derived from its add-on and
// number, which never name another backup, so it needs no record.
func transferUUID(addonID, id string) string {
	h := sha256.Sum256([]byte("pg-backup\x00" + addonID + "\x00" + id))
	h[6] = h[6]&0x0f | 0x80 // version 8: made by its own rule
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// backupTransfer is backup b as the Data API shows it. Its to_url names
// it on this server, for a restore (it downloads nothing: public-url
// gives the URL that does).
func backupTransfer(r *http.Request, b engine.PGBackup) TransferView {
	at := dataTime(b.CreatedAt)
	from := b.Attachment
	if from == "" {
		from = b.Addon
	}
	t := TransferView{
		UUID: transferUUID(b.AddonID, b.ID), Num: b.Num, FromName: from, FromType: "pg_dump", ToName: "BACKUP", ToType: "gof3r",
		ToURL: baseURL(r) + "/pg-backups/" + b.AddonID + "/" + b.ID, Options: map[string]any{}, Succeeded: true,
		ProcessedBytes: b.Size, CreatedAt: at, StartedAt: at, FinishedAt: at, UpdatedAt: at,
		Logs: []TransferLog{{CreatedAt: at, Message: fmt.Sprintf("pg_dump of %s (%s) finished: %s, %d bytes", from, b.Addon, b.ID, b.Size)}},
	}
	if b.Scheduled() {
		sched := b.Schedule
		if sched == "" {
			// Its schedule is gone: still a scheduled backup.
			sched = transferUUID(b.AddonID, "schedule")
		}
		t.Schedule = &TransferRef{UUID: sched}
	}
	if b.Running {
		// Under way: no end yet, its bytes so far.
		t.Succeeded, t.FinishedAt = false, ""
		t.Logs = []TransferLog{{CreatedAt: at, Message: fmt.Sprintf("pg_dump of %s (%s) running: %s, %d bytes so far", from, b.Addon, b.ID, b.Size)}}
	}
	return t
}

func (s *Server) transferRoutes(mux *routes) {
	mux.HandleFunc("GET /client/v11/apps/{app}/transfers", s.listTransfers)
	mux.HandleFunc("GET /client/v11/apps/{app}/transfers/{transfer}", s.getTransfer)
	mux.HandleFunc("DELETE /client/v11/apps/{app}/transfers/{transfer}", s.deleteTransfer)
	mux.HandleFunc("POST /client/v11/apps/{app}/transfers/{transfer}/actions/public-url", s.transferURL)
	mux.HandleFunc("POST /client/v11/apps/{app}/transfers/{transfer}/actions/cancel", s.cancelTransfer)
	mux.HandleFunc("POST /client/v11/databases/{addon}/backups", s.dataCapture)
	mux.HandleFunc("POST /client/v11/databases/{addon}/restores", s.dataRestore)
	mux.HandleFunc("POST /client/v11/databases/{addon}/transfers", s.dataCopy)
}

// listTransfers is GET /client/v11/apps/{app}/transfers (pg:backups):
// the app's backups, restores, copies and failed captures, oldest first.
func (s *Server) listTransfers(w http.ResponseWriter, r *http.Request) {
	list, err := s.scopedTransfers(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []TransferView{}
	for _, t := range list {
		out = append(out, t.view(r))
	}
	writeJSON(w, http.StatusOK, out)
}

// transferItem is one of an app's transfers: a kept backup, or a
// restore, copy or failed capture as its database's record keeps it.
type transferItem struct {
	backup *engine.PGBackup
	rec    *engine.PGTransfer
}

func (t transferItem) num() int {
	if t.backup != nil {
		return t.backup.Num
	}
	return t.rec.Num
}

func (t transferItem) addonID() string {
	if t.backup != nil {
		return t.backup.AddonID
	}
	return t.rec.AddonID
}

func (t transferItem) created() time.Time {
	if t.backup != nil {
		return t.backup.CreatedAt
	}
	return t.rec.CreatedAt
}

func (t transferItem) uuid() string {
	if t.backup != nil {
		return transferUUID(t.backup.AddonID, t.backup.ID)
	}
	if t.rec.UUID == "" {
		return transferUUID(t.rec.AddonID, t.rec.Name())
	}
	return t.rec.UUID
}

func (t transferItem) view(r *http.Request) TransferView {
	if t.backup != nil {
		return backupTransfer(r, *t.backup)
	}
	return recordTransfer(*t.rec)
}

// recordTransfer is a restore, copy or failed capture as the Data API
// shows it: the heroku CLI names it from its types and number (rNNN for
// one from gof3r to pg_restore, cNNN from pg_dump to pg_restore, bNNN or
// aNNN from pg_dump to gof3r).
func recordTransfer(rec engine.PGTransfer) TransferView {
	at := dataTime(rec.CreatedAt)
	t := TransferView{
		UUID: transferItem{rec: &rec}.uuid(), Num: rec.Num, FromName: rec.From, ToName: rec.To, Options: map[string]any{},
		Succeeded: rec.Succeeded, ProcessedBytes: rec.Size, SourceBytes: rec.Size, CreatedAt: at, StartedAt: at, UpdatedAt: at,
	}
	switch rec.Kind {
	case engine.TransferRestore:
		t.FromType, t.ToType = "gof3r", "pg_restore"
	case engine.TransferCopy:
		t.FromType, t.ToType = "pg_dump", "pg_restore"
	default:
		t.FromType, t.ToType = "pg_dump", "gof3r"
		if rec.Scheduled {
			t.Schedule = &TransferRef{UUID: transferUUID(rec.AddonID, "schedule")}
		}
	}
	t.Logs = []TransferLog{{CreatedAt: at, Message: fmt.Sprintf("%s %s of %s into %s (%s) started", rec.Kind, rec.Name(), rec.From, rec.To, rec.Addon)}}
	if !rec.Running() {
		end := dataTime(rec.FinishedAt)
		t.FinishedAt, t.UpdatedAt = end, end
		if rec.Canceled {
			t.CanceledAt = &end
		}
		t.Logs = append(t.Logs, TransferLog{CreatedAt: end, Message: rec.Message})
	}
	return t
}

// scopedTransfers is the transfers of the request's app the caller may
// follow (engine.BackupScope), oldest first.
func (s *Server) scopedTransfers(r *http.Request) ([]transferItem, error) {
	list, may, err := s.scopedBackups(r)
	if err != nil {
		return nil, err
	}
	recs, err := s.Engine.Transfers(r.PathValue("app"))
	if err != nil {
		return nil, err
	}
	var out []transferItem
	for i := range list {
		out = append(out, transferItem{backup: &list[i]})
	}
	for i := range recs {
		if may(recs[i].AddonID) {
			out = append(out, transferItem{rec: &recs[i]})
		}
	}
	slices.SortStableFunc(out, func(x, y transferItem) int { return x.created().Compare(y.created()) })
	return out, nil
}

// scopedBackups is the backups of the request's app the caller may
// follow (engine.BackupScope), and whether they may follow the
// transfers of an add-on.
func (s *Server) scopedBackups(r *http.Request) ([]engine.PGBackup, func(addonID string) bool, error) {
	app := r.PathValue("app")
	all, addons, err := s.Engine.BackupScope(app, s.by(r))
	if err != nil {
		return nil, nil, err
	}
	list, err := s.Engine.Backups(app)
	if err != nil {
		return nil, nil, err
	}
	may := func(addonID string) bool { return all || addons[addonID] }
	return slices.DeleteFunc(list, func(b engine.PGBackup) bool { return !may(b.AddonID) }), may, nil
}

// findTransfer finds the app's transfer by number or uuid, among those
// the caller may follow. A database's transfers share one sequence of
// numbers, but two databases attached to one app may each have a
// transfer 1: the number names the newest, as `hako pg:backups:restore
// b001` does.
func (s *Server) findTransfer(r *http.Request) (transferItem, error) {
	app, ref := r.PathValue("app"), r.PathValue("transfer")
	list, err := s.scopedTransfers(r)
	if err != nil {
		return transferItem{}, err
	}
	num, numErr := strconv.Atoi(ref)
	for i := len(list) - 1; i >= 0; i-- {
		if (numErr == nil && list[i].num() == num) || list[i].uuid() == ref {
			return list[i], nil
		}
	}
	return transferItem{}, engine.Errorf(engine.ENOTFOUND, "%s has no transfer %s: `heroku pg:backups -a %s` lists them.", app, short(ref), app)
}

// getTransfer is GET /client/v11/apps/{app}/transfers/{num or uuid}
// (pg:backups:info, and the polling of capture, restore and copy).
func (s *Server) getTransfer(w http.ResponseWriter, r *http.Request) {
	t, err := s.findTransfer(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t.view(r))
}

// deleteTransfer is DELETE /client/v11/apps/{app}/transfers/{num}
// (pg:backups:delete, which has had the user confirm): a backup, or the
// record of a failed capture; restores and copies are refused.
func (s *Server) deleteTransfer(w http.ResponseWriter, r *http.Request) {
	t, err := s.findTransfer(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if t.backup != nil {
		_, err = s.Engine.DeleteBackup(r.PathValue("app"), t.backup.AddonID, t.backup.ID, s.by(r))
	} else {
		_, err = s.Engine.DeleteTransfer(r.PathValue("app"), t.rec.AddonID, t.rec.Name(), s.by(r))
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	v := t.view(r)
	now := dataTime(time.Now())
	v.DeletedAt = &now
	writeJSON(w, http.StatusOK, v)
}

// cancelTransfer is POST .../transfers/{uuid}/actions/cancel
// (pg:backups:cancel): a backup being taken is stopped and its file
// removed, and it is listed failed; a restore or copy running is
// stopped, its database left as it was. One that has ended is refused
// (404 for a backup, 409 for a restore or copy) and nothing changes.
func (s *Server) cancelTransfer(w http.ResponseWriter, r *http.Request) {
	t, err := s.findTransfer(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if t.rec != nil {
		got, err := s.Engine.CancelTransfer(r.PathValue("app"), t.rec.AddonID, t.rec.Name(), s.by(r))
		if err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, recordTransfer(*got))
		return
	}
	b := t.backup
	if _, err := s.Engine.CancelBackup(r.PathValue("app"), b.AddonID, b.ID, s.by(r)); err != nil {
		s.fail(w, err)
		return
	}
	v := backupTransfer(r, *b)
	now := dataTime(time.Now())
	v.CanceledAt, v.FinishedAt, v.UpdatedAt = &now, now, now
	writeJSON(w, http.StatusOK, v)
}

// transferURL is POST .../transfers/{num}/actions/public-url
// (pg:backups:url, :download): a URL that downloads the dump without a
// token for an hour, as Heroku's signed URLs do.
func (s *Server) transferURL(w http.ResponseWriter, r *http.Request) {
	t, err := s.findTransfer(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if t.rec != nil {
		s.fail(w, engine.Errorf(engine.EINVALID, "%s has no dump to download: only a finished backup has one.", t.rec.Name()))
		return
	}
	b := t.backup
	if b.Running {
		s.fail(w, engine.Errorf(engine.EINVALID, "Backup %s is still being taken: wait for it, or stop it with pg:backups:cancel.", b.ID))
		return
	}
	key := b.AddonID + "/" + b.ID
	writeJSON(w, http.StatusOK, map[string]string{
		"url":        baseURL(r) + "/pg-backup-blobs/" + key + "?" + s.expiringQuery("pg-backup", key),
		"expires_at": dataTime(time.Now().Add(blobTTL)),
	})
}

// getBackupBlob is GET /pg-backup-blobs/{addon}/{backup}?expires=…&sig=…
// (a public-url): the dump, until the URL expires.
func (s *Server) getBackupBlob(w http.ResponseWriter, r *http.Request) {
	addonID, id := r.PathValue("addon"), r.PathValue("backup")
	if !s.signedUnexpired("pg-backup", addonID+"/"+id, r) {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This backup URL is unknown or expired: `heroku pg:backups:url` gives a new one."))
		return
	}
	b, err := s.backupOf(addonID, id, func(*engine.App) bool { return true })
	if err == nil && b.Running {
		err = engine.Errorf(engine.ENOTFOUND, "Backup %s is still being taken.", id)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	f, err := os.Open(b.Path)
	if err != nil {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "Backup %s is gone.", id))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, b.ID+".dump", b.CreatedAt, f)
}

// backupOf finds backup id of the add-on addonID through an app it is
// attached to that may accepts, and returns it as that app
// lists it.
func (s *Server) backupOf(addonID, id string, may func(*engine.App) bool) (*engine.PGBackup, error) {
	apps, err := s.Engine.Apps()
	if err != nil {
		return nil, err
	}
	for _, app := range apps {
		if !may(app) {
			continue
		}
		list, err := s.Engine.Backups(app.Name)
		if err != nil {
			return nil, err
		}
		for _, b := range list {
			if b.AddonID == addonID && b.ID == id {
				return &b, nil
			}
		}
	}
	return nil, engine.Errorf(engine.ENOTFOUND, "Couldn't find backup %s.", id)
}

// viaApp is an app of the caller's that add-on a is attached to, through
// which the Data API's routes act on it with hako's own checks.
func (s *Server) viaApp(r *http.Request, a *engine.Addon) string {
	for _, at := range a.AllAttachments() {
		if app, err := s.Engine.App(at.App); err == nil && canSee(r, app) {
			return at.App
		}
	}
	return ""
}

// dataCapture is POST /client/v11/databases/{addon}/backups
// (pg:backups:capture): the backup is begun and the answer is its
// transfer, running; the dump goes on on the server (engine.StartBackup)
// while the CLI polls it, and a client that goes away stops nothing. One
// that fails or is canceled is recorded by the engine and listed failed,
// under its number, restarts included. A second capture of a database
// while one runs is refused (409).
func (s *Server) dataCapture(w http.ResponseWriter, r *http.Request) {
	a, _, err := s.dataAddon(r, postgresService)
	if err != nil {
		s.fail(w, err)
		return
	}
	via := s.viaApp(r, a)
	bk, err := s.Engine.StartBackup(r.Context(), via, a.ID, s.by(r), nil)
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, at := range a.AllAttachments() {
		if at.App == via {
			bk.Attachment = at.Name
			break
		}
	}
	writeJSON(w, http.StatusCreated, backupTransfer(r, *bk))
}

// backupURLRe is a backup's URL on this server: a transfer's to_url or
// a public-url.
var backupURLRe = regexp.MustCompile(`^/(?:pg-backups|pg-backup-blobs)/([^/]+)/([ab]\d{3,})$`)

// dataRestore is POST /client/v11/databases/{addon}/restores
// {"backup_url": URL} (pg:backups:restore, which has had the user
// confirm): the database is replaced by a backup of this server's,
// named by its transfer's to_url or a public-url, which the caller must
// see through an app of theirs. hako fetches no other URL.
func (s *Server) dataRestore(w http.ResponseWriter, r *http.Request) {
	var body struct {
		BackupURL string `json:"backup_url"`
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
	u, err := url.Parse(body.BackupURL)
	var m []string
	if err == nil && u.Host == r.Host {
		m = backupURLRe.FindStringSubmatch(u.Path)
	}
	if m == nil {
		s.fail(w, engine.Errorf(engine.EINVALID, "hako restores only its own backups: name one as b001 or APP::b001, or by a URL from `heroku pg:backups:url`."))
		return
	}
	src, err := s.backupOf(m[1], m[2], func(app *engine.App) bool { return canSee(r, app) })
	if err != nil {
		s.fail(w, err)
		return
	}
	via := s.viaApp(r, a)
	t, err := s.Engine.StartRestore(r.Context(), via, a.ID, src.App, src.AddonID, src.ID, via, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, recordTransfer(*t))
}

// dataCopy is POST /client/v11/databases/{addon}/transfers {"from_name",
// "from_url", "to_name", "to_url"} (pg:copy, which has had the user
// confirm): the database, which must be the target (to_url its own
// URL), is replaced by the source's data (engine.CopyDatabase). The
// answer is the copy's transfer (cNNN), running: the copy goes on on the
// server while the CLI polls it. A URL hako does not copy from or into
// is refused with its reason, and nothing is recorded or changed.
func (s *Server) dataCopy(w http.ResponseWriter, r *http.Request) {
	var body struct {
		FromName string `json:"from_name"`
		FromURL  string `json:"from_url"`
		ToName   string `json:"to_name"`
		ToURL    string `json:"to_url"`
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
	via := s.viaApp(r, a)
	t, err := s.Engine.CopyDatabase(r.Context(), via, a.ID, body.FromName, body.FromURL, body.ToName, body.ToURL, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, recordTransfer(*t))
}

// short cuts a name the client gave to a length fit to show back.
func short(name string) string {
	if len(name) > 100 {
		return name[:100]
	}
	return name
}
