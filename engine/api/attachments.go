package api

import (
	"encoding/json"
	"net/http"
	"time"

	"hako/engine"
)

// Add-on attachments, in the Platform API's shapes: an add-on belongs to
// one app and is attached to it, and may be attached to more apps (and
// to its own again under another name). Who may see an attachment is who
// may see its app; who may see an add-on is who may see its app or an
// app it is attached to, since those apps hold its URL.

func (s *Server) attachmentRoutes(mux *routes) {
	mux.HandleFunc("GET /apps/{app}/addon-attachments", s.listAttachments)
	mux.HandleFunc("GET /apps/{app}/addon-attachments/{attachment}", s.attachmentInfoByApp)
	mux.HandleFunc("GET /addon-attachments", s.listAttachments)
	mux.HandleFunc("POST /addon-attachments", s.createAttachment)
	mux.HandleFunc("GET /addon-attachments/{attachment}", s.attachmentInfo)
	mux.HandleFunc("DELETE /addon-attachments/{attachment}", s.deleteAttachment)
	mux.HandleFunc("GET /addons/{addon}/addon-attachments", s.addonAttachments)
	mux.HandleFunc("GET /apps/{app}/addons/{addon}/addon-attachments", s.addonAttachments)
	mux.HandleFunc("POST /actions/addon-attachments/resolve", s.resolveAttachment)
}

// AttachmentView is an add-on attachment in the Platform API's shape.
type AttachmentView struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Addon struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		App  AppRef `json:"app"`
		// Plan is what the heroku CLI's pg commands ask to include
		// (Accept-Inclusion: addon:plan) to tell databases apart.
		Plan NameRef `json:"plan"`
	} `json:"addon"`
	App         AppRef    `json:"app"`
	Namespace   *string   `json:"namespace"`
	LogInputURL *string   `json:"log_input_url"`
	WebURL      *string   `json:"web_url"`
	ConfigVars  []string  `json:"config_vars"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (s *Server) attachmentView(at engine.AddonAttachment) AttachmentView {
	var v AttachmentView
	ad := at.Addon
	v.ID, v.Name, v.App = at.ID, at.Name, s.appRef(at.App)
	v.Addon.ID, v.Addon.Name, v.Addon.App, v.Addon.Plan = ad.ID, ad.Name, s.appRef(ad.App), NameRef{ad.Service + ":" + ad.Plan}
	v.ConfigVars = []string{at.ConfigVar()}
	v.CreatedAt, v.UpdatedAt = at.Created, at.Created
	return v
}

// visible keeps the attachments on apps the caller may see.
func (s *Server) visible(r *http.Request, list []engine.AddonAttachment) ([]engine.AddonAttachment, error) {
	apps, err := s.Engine.Apps()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, a := range apps {
		seen[a.Name] = canSee(r, a)
	}
	var out []engine.AddonAttachment
	for _, at := range list {
		if seen[at.App] {
			out = append(out, at)
		}
	}
	return out, nil
}

// canSeeAddon reports whether the caller may see an add-on: through its
// own app or an app it is attached to.
func (s *Server) canSeeAddon(r *http.Request, ad *engine.Addon) bool {
	for _, at := range ad.AllAttachments() {
		if a, err := s.Engine.App(at.App); err == nil && canSee(r, a) {
			return true
		}
	}
	return false
}

func (s *Server) writeAttachments(w http.ResponseWriter, r *http.Request, list []engine.AddonAttachment, err error) {
	if err == nil {
		list, err = s.visible(r, list)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []AttachmentView{}
	for _, at := range list {
		out = append(out, s.attachmentView(at))
	}
	writeJSON(w, http.StatusOK, out)
}

// listAttachments lists the attachments on one app, or on every app the
// caller may see (the heroku CLI's `addons` asks for both).
func (s *Server) listAttachments(w http.ResponseWriter, r *http.Request) {
	if app := r.PathValue("app"); app != "" {
		list, err := s.Engine.Attachments(app)
		s.writeAttachments(w, r, list, err)
		return
	}
	list, err := s.Engine.AllAttachments()
	s.writeAttachments(w, r, list, err)
}

// attachmentInfoByApp is GET /apps/{app}/addon-attachments/{attachment}:
// one attachment on the app, by id or name (`addons:detach SECOND`).
func (s *Server) attachmentInfoByApp(w http.ResponseWriter, r *http.Request) {
	at, err := s.Engine.Attachment(r.PathValue("app"), r.PathValue("attachment"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.attachmentView(*at))
}

// attachmentByID finds an attachment by id among those the caller may
// see: others are not found, as if they were not there.
func (s *Server) attachmentByID(r *http.Request, id string) (*engine.AddonAttachment, error) {
	at, err := s.Engine.AttachmentByID(id)
	if err != nil {
		return nil, err
	}
	if list, err := s.visible(r, []engine.AddonAttachment{*at}); err != nil || len(list) == 0 {
		return nil, engine.Errorf(engine.ENOTFOUND, "Couldn't find that add-on attachment: %s.", id)
	}
	return at, nil
}

// attachmentInfo is GET /addon-attachments/{id}.
func (s *Server) attachmentInfo(w http.ResponseWriter, r *http.Request) {
	at, err := s.attachmentByID(r, r.PathValue("attachment"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.attachmentView(*at))
}

// identity is a resource given by name or id, as a string or as
// {"name": …} or {"id": …}: the heroku CLI sends the object, heroku-go
// the string.
type identity string

func (p *identity) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*p = identity(s)
		return nil
	}
	var ref IDName
	if err := json.Unmarshal(b, &ref); err != nil {
		return engine.Errorf(engine.EINVALID, `Give an add-on or an app as "NAME" or {"name": "NAME"} (or its id).`)
	}
	*p = identity(ref.Name)
	if ref.ID != "" {
		*p = identity(ref.ID)
	}
	return nil
}

// createAttachment is POST /addon-attachments: {"addon": ADDON, "app":
// APP, "name": "SECOND", "confirm": APP}. Attaching shares the add-on's
// credentials with the app, so the caller must have access to both the
// add-on's own app and the target; an add-on they cannot see at all is
// not found.
func (s *Server) createAttachment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Addon     identity `json:"addon"`
		App       identity `json:"app"`
		Name      string   `json:"name"`
		Confirm   string   `json:"confirm"`
		Namespace *string  `json:"namespace"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.Addon == "" || body.App == "" {
		s.fail(w, engine.Errorf(engine.EINVALID, `Give "addon" (its name or id) and "app" (the app to attach it to).`))
		return
	}
	if body.Namespace != nil && *body.Namespace != "" {
		s.fail(w, engine.Errorf(engine.EINVALID, "Only the default credential can be attached here: credential namespaces (%s) are not offered.", *body.Namespace))
		return
	}
	app, err := s.appName(string(body.App))
	if err == nil {
		err = s.Engine.CheckAccess(s.by(r), app, engine.AccessMember)
	}
	var ad *engine.Addon
	if err == nil {
		ad, err = s.Engine.FindAddon(string(body.Addon))
	}
	if err == nil && !s.canSeeAddon(r, ad) {
		err = engine.Errorf(engine.ENOTFOUND, "Couldn't find that add-on: %s.", body.Addon)
	}
	if err == nil {
		err = s.Engine.CheckAccess(s.by(r), ad.App, engine.AccessMember)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	at, err := s.Engine.AttachAddon(r.Context(), engine.AttachRequest{Addon: ad.ID, App: app, As: body.Name, Confirm: body.Confirm, User: s.by(r)})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.attachmentView(*at))
}

// deleteAttachment is DELETE /addon-attachments/{id}: it needs access to
// the attachment's app, which loses the add-on.
func (s *Server) deleteAttachment(w http.ResponseWriter, r *http.Request) {
	at, err := s.attachmentByID(r, r.PathValue("attachment"))
	if err == nil {
		err = s.Engine.CheckAccess(s.by(r), at.App, engine.AccessMember)
	}
	if err == nil {
		at, err = s.Engine.DetachAddon(r.Context(), at.ID, s.by(r), nil)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.attachmentView(*at))
}

// addonAttachments lists an add-on's attachments (those the caller may
// see), the add-on given by id or name, or within an app also by the
// name of its attachment there, as the CLI also asks.
func (s *Server) addonAttachments(w http.ResponseWriter, r *http.Request) {
	ref, app := r.PathValue("addon"), r.PathValue("app")
	ad, err := s.Engine.FindAddon(ref)
	if err == nil && !s.canSeeAddon(r, ad) {
		err = engine.Errorf(engine.ENOTFOUND, "Couldn't find that add-on: %s.", ref)
	}
	if err != nil && app != "" {
		var at *engine.AddonAttachment
		if at, err = s.Engine.Attachment(app, ref); err == nil {
			ad = &at.Addon
		}
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	var list []engine.AddonAttachment
	for _, at := range ad.AllAttachments() {
		if app == "" || at.App == app {
			list = append(list, engine.AddonAttachment{Attachment: at, Addon: *ad})
		}
	}
	s.writeAttachments(w, r, list, nil)
}

// resolveAttachment is POST /actions/addon-attachments/resolve:
// {"app": APP, "addon_attachment": NAME}, as the heroku CLI finds an
// attachment before it reads its add-on.
func (s *Server) resolveAttachment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		App        string `json:"app"`
		Attachment string `json:"addon_attachment"`
		Service    string `json:"addon_service"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if body.Attachment == "" {
		s.fail(w, engine.Errorf(engine.EINVALID, `Missing "addon_attachment": give the attachment's name, e.g. DATABASE.`))
		return
	}
	var list []engine.AddonAttachment
	var err error
	if body.App != "" {
		if err = s.Engine.CheckAccess(s.by(r), body.App, engine.AccessMember); err == nil {
			list, err = s.Engine.Attachments(body.App)
		}
	} else {
		list, err = s.Engine.AllAttachments()
	}
	if err == nil {
		list, err = s.visible(r, list)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []AttachmentView{}
	for _, at := range list {
		ref := body.Attachment
		if at.ID == ref || at.Name == ref || at.Addon.Name == ref || at.App+"::"+at.Name == ref {
			if body.Service == "" || body.Service == at.Addon.Service {
				out = append(out, s.attachmentView(at))
			}
		}
	}
	if len(out) == 0 {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "Couldn't find that add-on attachment: %s.", body.Attachment))
		return
	}
	writeJSON(w, http.StatusOK, out)
}
