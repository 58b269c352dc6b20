package api

import (
	"cmp"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"hako/engine"
)

// SlugView is a slug in the Platform API's shape. Blob is where to PUT an
// imported slug's archive, or GET a recorded one's.
type SlugView struct {
	ID   string `json:"id"`
	Blob struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"blob"`
	BuildpackProvidedDescription *string           `json:"buildpack_provided_description"`
	Checksum                     *string           `json:"checksum"`
	Commit                       *string           `json:"commit"`
	CommitDescription            *string           `json:"commit_description"`
	ProcessTypes                 map[string]string `json:"process_types"`
	Size                         *int64            `json:"size"`
	Stack                        IDName            `json:"stack"`
	CreatedAt                    time.Time         `json:"created_at"`
	UpdatedAt                    time.Time         `json:"updated_at"`
}

// IDName is the Platform API's nested {"id", "name"} reference.
type IDName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// slugImport is a slug announced by POST /apps/{app}/slugs, waiting for
// its archive (PUT to its blob URL) and a release of it.
type slugImport struct {
	id, secret, app string
	// appID is the app's id: a name may pass to another app (a rename,
	// or a destroyed app's name taken by someone else).
	appID       string
	created     time.Time
	desc, ctext string // buildpack_provided_description, commit_description
	want        string // the checksum the client announced
	uploaded    string // the checksum of the archive PUT, which may be stored rewritten
	// user made the import, which expires then.
	user    string
	expires time.Time

	mu   sync.Mutex
	slug engine.Slug // ID is set once the archive arrived
}

// record is the import as the store keeps it. The caller holds im.mu or
// is the only one to see im.
func (im *slugImport) record() *engine.SlugImport {
	return &engine.SlugImport{ID: im.id, Secret: im.secret, AppID: im.appID, App: im.app, User: im.user,
		Description: im.desc, CommitDescription: im.ctext, Want: im.want, Uploaded: im.uploaded,
		CreatedAt: im.created, ExpiresAt: im.expires, Slug: im.slug}
}

// forgetImport drops an expired import, with its archive unless a
// release took it up.
func (s *Server) forgetImport(im *slugImport) {
	im.mu.Lock()
	rec := im.record()
	im.mu.Unlock()
	s.Engine.DropSlugImport(rec)
}

// restoreImports takes up again the imports an earlier server's life
// made, which the store kept: their blob URLs take archives, and those
// uploaded can be released.
func (s *Server) restoreImports() {
	if s.Engine == nil {
		return
	}
	list, err := s.Engine.SlugImports()
	if err != nil {
		s.logf("restore the slug imports: %v", err)
		return
	}
	for _, r := range list {
		im := &slugImport{id: r.ID, secret: r.Secret, app: r.App, appID: r.AppID, created: r.CreatedAt,
			desc: r.Description, ctext: r.CommitDescription, want: r.Want, uploaded: r.Uploaded,
			user: r.User, expires: r.ExpiresAt, slug: r.Slug}
		s.imports.restore(im.secret, im.user, im, s.forgetImport, im.expires)
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func stackRef() IDName { return IDName{ID: stableID("stack", engine.Stack), Name: engine.Stack} }

// slugView answers a recorded slug, whose blob can be fetched.
func (s *Server) slugView(r *http.Request, sl *engine.Slug) SlugView {
	v := SlugView{ID: sl.ID, BuildpackProvidedDescription: optional(sl.Buildpack), Checksum: optional(sl.Checksum),
		Commit: optional(sl.Commit), ProcessTypes: sl.ProcessTypes, Size: &sl.Size, Stack: stackRef(),
		CreatedAt: sl.CreatedAt, UpdatedAt: sl.CreatedAt}
	v.Blob.Method = "GET"
	v.Blob.URL = baseURL(r) + "/slug-blobs/" + sl.ID + "?" + s.expiringQuery("slug", sl.ID)
	if v.ProcessTypes == nil {
		v.ProcessTypes = map[string]string{}
	}
	return v
}

// importView answers a slug import.
func (s *Server) importView(r *http.Request, im *slugImport) SlugView {
	im.mu.Lock()
	defer im.mu.Unlock()
	v := SlugView{ID: im.id, BuildpackProvidedDescription: optional(im.desc), Commit: optional(im.slug.Commit),
		CommitDescription: optional(im.ctext), Checksum: optional(cmp.Or(im.uploaded, im.want)),
		ProcessTypes: im.slug.ProcessTypes, Stack: stackRef(), CreatedAt: im.created, UpdatedAt: im.created}
	if im.slug.ID != "" {
		v.Size = &im.slug.Size
	}
	v.Blob.Method = "PUT"
	v.Blob.URL = baseURL(r) + "/slug-blobs/" + im.secret
	return v
}

var processTypeRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)

// createSlug is POST /apps/{app}/slugs, Heroku's slug import:
// {"process_types": {"web": "CMD"}, "commit": …, "stack": …}. The answer's
// blob is where to PUT the archive, a tar.gz of the app's directory (or of
// ./app, as Heroku's are: see engine/slugshape.go); then
// POST /apps/{app}/releases {"slug": ID} releases it.
func (s *Server) createSlug(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ProcessTypes                 map[string]string `json:"process_types"`
		Commit                       string            `json:"commit"`
		CommitDescription            string            `json:"commit_description"`
		BuildpackProvidedDescription string            `json:"buildpack_provided_description"`
		Checksum                     string            `json:"checksum"`
		Stack                        string            `json:"stack"`
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
	if err := checkSlugBody(body.ProcessTypes, body.Stack, body.Checksum); err != nil {
		s.fail(w, err)
		return
	}
	for what, f := range map[string]string{"commit": body.Commit, "commit_description": body.CommitDescription,
		"buildpack_provided_description": body.BuildpackProvidedDescription} {
		if err := engine.ValidateText(what, f, 256); err != nil {
			s.fail(w, err)
			return
		}
	}
	now := time.Now().UTC()
	im := &slugImport{id: engine.NewID(), secret: secret(), app: app.Name, appID: app.ID, created: now,
		desc: body.BuildpackProvidedDescription, ctext: body.CommitDescription, want: body.Checksum,
		user: s.by(r), expires: now.Add(cmp.Or(s.imports.ttl, blobTTL))}
	im.slug = engine.Slug{App: app.Name, Commit: body.Commit, Buildpack: body.BuildpackProvidedDescription,
		ProcessTypes: body.ProcessTypes, Stack: engine.Stack}
	if !s.imports.add(im.secret, im.user, im, s.forgetImport) {
		s.fail(w, engine.Errorf(engine.EINVALID, "Too many slug imports wait for their upload (at most %d of yours, each for an hour): use or let expire the ones made.", maxPendingPerUser))
		return
	}
	if err := s.Engine.SaveSlugImport(im.record()); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.importView(r, im))
}

// checkSlugBody checks an imported slug's description.
func checkSlugBody(types map[string]string, stack, checksum string) error {
	if len(types) == 0 {
		return engine.Errorf(engine.EINVALID, `Missing "process_types": give the slug's commands, {"web": "./bin/web"}.`)
	}
	if len(types) > 64 {
		return engine.Errorf(engine.EINVALID, "A slug has at most 64 process types.")
	}
	for t, c := range types {
		if !processTypeRe.MatchString(t) {
			return engine.Errorf(engine.EINVALID, "Process type %q is invalid: use letters, digits, _ and -.", t)
		}
		if strings.TrimSpace(c) == "" {
			return engine.Errorf(engine.EINVALID, "Process type %q has no command.", t)
		}
	}
	if err := engine.ValidateProcessTypes(types); err != nil {
		return err
	}
	if stack != "" && stack != engine.Stack {
		return engine.Errorf(engine.EINVALID, "Stack %q is not available here: hako runs %s.", stack, engine.Stack)
	}
	if checksum != "" && !regexp.MustCompile(`^SHA256:[0-9a-f]{64}$`).MatchString(checksum) {
		return engine.Errorf(engine.EINVALID, "Checksum %q is invalid: give SHA256:<64 hex digits>.", checksum)
	}
	return nil
}

// findImport finds a slug import by its id.
func (s *Server) findImport(id string) *slugImport {
	var found *slugImport
	s.imports.each(func(_ string, im *slugImport) {
		if im.id == id {
			found = im
		}
	})
	return found
}

// putSlugBlob is PUT /slug-blobs/{secret}: an imported slug's archive.
func (s *Server) putSlugBlob(w http.ResponseWriter, r *http.Request) {
	im, ok := s.imports.get(r.PathValue("secret"))
	if !ok {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This slug upload URL is unknown or has expired: import the slug again."))
		return
	}
	// One upload at a time per import; a second one replaces the first.
	im.mu.Lock()
	defer im.mu.Unlock()
	got, err := s.Engine.ImportSlug(idleBody(w, r), im.id)
	if err != nil {
		s.fail(w, err)
		return
	}
	if want := im.want; want != "" && want != got.Checksum {
		s.Engine.ForgetImport(got.ID)
		s.fail(w, engine.Errorf(engine.EINVALID, "The archive's checksum is %s, not the %s the slug was created with.", got.Checksum, want))
		return
	}
	if old := im.slug.ID; old != "" && old != got.ID {
		s.Engine.ForgetImport(old)
	}
	// The slug records the archive as stored, which its blob serves;
	// the import goes on reporting the one uploaded.
	im.slug.ID, im.slug.Size, im.slug.Checksum = got.ID, got.StoredSize, got.StoredChecksum
	im.uploaded = got.Checksum
	// Recorded before the answer: an archive acknowledged survives a
	// restart.
	if err := s.Engine.SaveSlugImport(im.record()); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// getSlugBlob is GET /slug-blobs/{id}?expires=…&sig=…: a recorded slug's
// archive, for export, until the URL expires.
func (s *Server) getSlugBlob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("secret")
	if !s.signedUnexpired("slug", id, r) {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This slug URL is unknown: ask for the slug's info again."))
		return
	}
	if _, err := s.Engine.Slug(id); err != nil {
		if engine.ErrorCode(err) == engine.ENOTFOUND {
			// Signed, so a slug once: retention removed it since.
			err = s.Engine.SlugRemovedError("", 0)
		}
		s.fail(w, err)
		return
	}
	f, err := s.Engine.OpenSlug(id)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/gzip")
	http.ServeContent(w, r, id+".tgz", time.Time{}, f)
}

// getSlug is GET /apps/{app}/slugs/{id}: a recorded slug, or an import.
func (s *Server) getSlug(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	id := r.PathValue("slug")
	if im := s.findImport(id); im != nil && im.appID == app.ID {
		im.mu.Lock()
		done, uploaded := im.slug.ID, im.uploaded
		im.mu.Unlock()
		// Once released, the import is the recorded slug, with the
		// checksum its client announced.
		if sl, err := s.Engine.Slug(done); done != "" && err == nil {
			v := s.slugView(r, sl)
			v.ID, v.Checksum = im.id, optional(uploaded)
			writeJSON(w, http.StatusOK, v)
			return
		}
		writeJSON(w, http.StatusOK, s.importView(r, im))
		return
	}
	sl, err := s.Engine.Slug(id)
	if engine.ErrorCode(err) == engine.ENOTFOUND {
		if v := s.releaseOfSlug(app.Name, id); v > 0 {
			s.fail(w, s.Engine.SlugRemovedError(app.Name, v))
			return
		}
	}
	if err != nil || !slugFileRe.MatchString(id) || !s.slugOf(app.Name, sl) {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "Couldn't find that slug: %s.", id))
		return
	}
	writeJSON(w, http.StatusOK, s.slugView(r, sl))
}

// releaseOfSlug is the latest of app's releases that ran the slug id, 0
// if none did.
func (s *Server) releaseOfSlug(app, id string) int {
	rels, err := s.Engine.Releases(app)
	if err != nil || id == "" {
		return 0
	}
	v := 0
	for _, r := range rels {
		if r.SlugID == id {
			v = max(v, r.Version)
		}
	}
	return v
}

// slugOf reports whether a recorded slug is the app's: built or imported
// for it, or run by one of its releases (a pipeline's promotion). Another
// app's slug is not found through this one: its blob is that app's code.
func (s *Server) slugOf(app string, sl *engine.Slug) bool {
	if sl.App == app {
		return true
	}
	rels, err := s.Engine.Releases(app)
	if err != nil {
		return false
	}
	for _, r := range rels {
		if r.SlugID == sl.ID {
			return true
		}
	}
	return false
}

// mayUseSlug checks that the caller may release a slug made for from in
// the app to: its own, or one of an app the caller has access to (as
// Heroku releases a slug of one app in another).
func (s *Server) mayUseSlug(r *http.Request, to, from string) error {
	if from == to {
		return nil
	}
	if err := s.Engine.CheckAccess(s.by(r), from, engine.AccessMember); err != nil {
		return engine.Errorf(engine.ENOTFOUND, "Couldn't find that slug.")
	}
	return nil
}

// mayUseImport checks that the caller may release an import in the app
// to: one made for it (by id: its name may be another app's since), or
// for an app, still of its name, the caller has access to.
func (s *Server) mayUseImport(r *http.Request, to string, im *slugImport) error {
	if a, err := s.Engine.App(to); err == nil && a.ID == im.appID {
		return nil
	}
	if a, err := s.Engine.App(im.app); err != nil || a.ID != im.appID {
		return engine.Errorf(engine.ENOTFOUND, "Couldn't find that slug.")
	}
	return s.mayUseSlug(r, to, im.app)
}

var slugFileRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// releaseSlug releases a slug by its id: a recorded one, or an import
// whose archive arrived.
func (s *Server) releaseSlug(r *http.Request, app, id, desc string) (*engine.Release, error) {
	req := engine.SlugRelease{App: app, User: s.by(r), SlugID: id, Description: desc}
	if im := s.findImport(id); im != nil {
		if err := s.mayUseImport(r, app, im); err != nil {
			return nil, err
		}
		im.mu.Lock()
		sl := im.slug
		im.mu.Unlock()
		if sl.ID == "" {
			return nil, engine.Errorf(engine.EINVALID, "Slug %s has no archive yet: PUT it to the slug's blob URL first.", id)
		}
		req.SlugID = sl.ID
		if _, err := s.Engine.Slug(sl.ID); engine.ErrorCode(err) == engine.ENOTFOUND {
			req.Import = &sl
		}
	} else if sl, err := s.Engine.Slug(id); err != nil || !slugFileRe.MatchString(id) {
		return nil, engine.Errorf(engine.ENOTFOUND, "Couldn't find that slug: %s.", id)
	} else if !s.slugOf(app, sl) {
		if err := s.mayUseSlug(r, app, sl.App); err != nil {
			return nil, err
		}
	}
	return s.Engine.ReleaseSlug(r.Context(), req)
}
