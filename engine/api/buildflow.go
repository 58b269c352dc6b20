package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"hako/engine"
)

// Heroku's build flow without git: POST /sources, PUT the tar.gz to its
// put_url, then POST /apps/{app}/builds {"source_blob": {"url": GET_URL}}
// answers a Build at once; the build runs on, its output streaming from
// output_stream_url, and GET /apps/{app}/builds/{id} tells how it ended.

// maxBuildLog bounds the output a build keeps for its stream.
const maxBuildLog = 4 << 20

// keptBuilds bounds the builds listed per app; older ones are forgotten.
const keptBuilds = 50

// build is one build of the flow, kept in memory.
type build struct {
	id, secret, app, appID string
	// user is who asked for the build.
	user            string
	srcURL, version string
	checksum        *string
	created         time.Time

	mu      sync.Mutex
	status  string
	updated time.Time
	release *IDRef
	slug    *IDRef
	out     []byte
	dropped bool
	changed chan struct{} // closed and replaced at each change
}

// Write appends build output, dropping what passes maxBuildLog.
func (b *build) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxBuildLog - len(b.out); room > 0 {
		b.out = append(b.out, p[:min(len(p), room)]...)
	} else if !b.dropped {
		b.dropped = true
	}
	b.wake()
	return len(p), nil
}

// wake tells the streams something changed. The caller holds b.mu.
func (b *build) wake() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// appName is the build's app's name, which a rename changes.
func (b *build) appName() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.app
}

// builds is the server's table of builds.
type builds struct {
	mu    sync.Mutex
	byID  map[string]*build
	byApp map[string][]*build
}

func (t *builds) add(b *build) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID == nil {
		t.byID, t.byApp = map[string]*build{}, map[string][]*build{}
	}
	t.byID[b.id] = b
	list := append(t.byApp[b.app], b)
	for len(list) > keptBuilds {
		delete(t.byID, list[0].id)
		list = list[1:]
	}
	t.byApp[b.app] = list
}

// running counts the builds not yet ended, all and user's.
func (t *builds) running(user string) (all, mine int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.byID {
		b.mu.Lock()
		if b.status == "pending" {
			all++
			if b.user == user {
				mine++
			}
		}
		b.mu.Unlock()
	}
	return all, mine
}

// rename moves an app's builds to its new name.
func (t *builds) rename(old, new string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.byApp[old]
	delete(t.byApp, old)
	for _, b := range list {
		b.mu.Lock()
		b.app = new
		b.mu.Unlock()
	}
	if len(list) > 0 {
		t.byApp[new] = list
	}
}

func (t *builds) get(id string) *build {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[id]
}

func (t *builds) bySecret(secret string) *build {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.byID {
		if b.secret == secret {
			return b
		}
	}
	return nil
}

func (t *builds) list(app string) []*build {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*build(nil), t.byApp[app]...)
}

// BuildView is a build in the Platform API's shape.
type BuildView struct {
	ID              string    `json:"id"`
	App             IDRef     `json:"app"`
	Buildpacks      []NameURL `json:"buildpacks"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	OutputStreamURL string    `json:"output_stream_url"`
	Release         *IDRef    `json:"release"`
	Slug            *IDRef    `json:"slug"`
	SourceBlob      struct {
		Checksum *string `json:"checksum"`
		URL      string  `json:"url"`
		Version  *string `json:"version"`
	} `json:"source_blob"`
	Stack  string `json:"stack"`
	Status string `json:"status"`
	User   Owner  `json:"user"`
}

// NameURL is a buildpack as a build lists it.
type NameURL struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

func (s *Server) buildView(r *http.Request, b *build) BuildView {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := BuildView{ID: b.id, App: IDRef{b.appID}, Buildpacks: []NameURL{}, CreatedAt: b.created, UpdatedAt: b.updated,
		OutputStreamURL: baseURL(r) + "/build-output/" + b.secret, Release: b.release, Slug: b.slug,
		Stack: engine.Stack, Status: b.status, User: s.owner(b.user)}
	v.SourceBlob.Checksum, v.SourceBlob.URL, v.SourceBlob.Version = b.checksum, b.srcURL, optional(b.version)
	if a, err := s.Engine.App(b.app); err == nil {
		for _, p := range a.Buildpacks {
			v.Buildpacks = append(v.Buildpacks, NameURL{Name: p, URL: p})
		}
	}
	return v
}

// isJSON reports whether the request's body is JSON (heroku-go and the
// heroku CLI) rather than hako's raw tar.gz (`hako builds:create`).
func isJSON(r *http.Request) bool {
	t, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return t == "application/json" || strings.HasSuffix(t, "+json")
}

// createSourceBuild is POST /apps/{app}/builds with a JSON body.
func (s *Server) createSourceBuild(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SourceBlob struct {
			URL      string  `json:"url"`
			Version  string  `json:"version"`
			Checksum *string `json:"checksum"`
		} `json:"source_blob"`
		Buildpacks []NameURL `json:"buildpacks"`
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
	if err := engine.ValidateText("version", body.SourceBlob.Version, 64); err != nil {
		s.fail(w, err)
		return
	}
	if len(body.Buildpacks) > 0 {
		s.fail(w, engine.Errorf(engine.EINVALID, "A build takes the app's buildpacks: set them with PUT /apps/%s/buildpack-installations (`buildpacks:set`), not in the build.", app.Name))
		return
	}
	// Each build waits for its app's lock in a goroutine of its own:
	// their number is bounded as the sources are.
	if all, mine := s.builds.running(s.by(r)); all >= maxPending || mine >= maxPendingPerUser {
		s.fail(w, engine.Errorf(engine.EINVALID, "%d builds are running or waiting already, %d of yours (at most %d): wait for one to end.", all, mine, maxPendingPerUser))
		return
	}
	f, err := s.openSource(body.SourceBlob.URL, body.SourceBlob.Checksum)
	if err != nil {
		s.fail(w, err)
		return
	}
	now := time.Now().UTC()
	b := &build{id: engine.NewID(), secret: secret(), app: app.Name, appID: app.ID, user: s.by(r), srcURL: body.SourceBlob.URL,
		version: body.SourceBlob.Version, checksum: body.SourceBlob.Checksum, created: now,
		status: "pending", updated: now, changed: make(chan struct{})}
	s.builds.add(b)
	go s.runBuild(b, f, app.Name)
	writeJSON(w, http.StatusCreated, s.buildView(r, b))
}

// openSource opens the upload a source_blob URL names. Only sources this
// server hosts are built: fetching other URLs would let a client make the
// server reach wherever it likes.
func (s *Server) openSource(raw string, checksum *string) (*os.File, error) {
	u, err := url.Parse(raw)
	key, ok := "", false
	if err == nil {
		key, ok = strings.CutPrefix(u.Path, "/source-blobs/")
	}
	if raw == "" || !ok || key == "" {
		return nil, engine.Errorf(engine.EINVALID, "source_blob.url must be a get_url from POST /sources on this server (hako fetches no other URL).")
	}
	src, ok := s.sources.get(key)
	if !ok {
		return nil, engine.Errorf(engine.EINVALID, "The source %s is unknown or has expired: create a source again.", raw)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.size < 0 {
		return nil, engine.Errorf(engine.EINVALID, "The source has no upload yet: PUT the tar.gz to its put_url first.")
	}
	f, err := os.Open(src.path())
	if err != nil {
		return nil, fmt.Errorf("open source: %w", err)
	}
	if checksum != nil {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			f.Close()
			return nil, fmt.Errorf("read source: %w", err)
		}
		if got := "SHA256:" + hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, *checksum) {
			f.Close()
			return nil, engine.Errorf(engine.EINVALID, "The source's checksum is %s, not %s.", got, *checksum)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("read source: %w", err)
		}
	}
	return f, nil
}

// runBuild builds and releases a source, as a push does, and records how
// it ended.
func (s *Server) runBuild(b *build, f *os.File, app string) {
	defer f.Close()
	rel, err := s.Engine.Deploy(context.Background(), engine.DeployRequest{
		App: app, Commit: b.version, User: b.user, Out: b, Source: f,
	})
	if err != nil && engine.ErrorCode(err) != engine.EBUILD {
		if engine.ErrorCode(err) == engine.EINTERNAL {
			s.logf("build of %s: %v", app, err)
		}
		fmt.Fprintf(b, " !     %s\n", engine.ErrorMessage(err))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.status, b.updated = "failed", time.Now().UTC()
	if err == nil {
		b.status = "succeeded"
		b.release = &IDRef{rel.ID}
		if rel.SlugID != "" {
			b.slug = &IDRef{rel.SlugID}
		}
	}
	b.wake()
}

// readBuildOutput is GET /build-output/{secret}: the build's output as it
// happens, in plain text, until the build ends.
func (s *Server) readBuildOutput(w http.ResponseWriter, r *http.Request) {
	b := s.builds.bySecret(r.PathValue("secret"))
	if b == nil {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This build output URL is unknown."))
		return
	}
	streamText(w, r, func(sent int) ([]byte, bool, <-chan struct{}) {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.out[sent:], b.status != "pending", b.changed
	})
}

// listBuilds is GET /apps/{app}/builds, oldest first.
func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []BuildView{}
	for _, b := range s.builds.list(app.Name) {
		// An app destroyed leaves its builds under its name: a new app
		// of that name (anyone's) must not list them, their source and
		// their output.
		if b.appID == app.ID {
			out = append(out, s.buildView(r, b))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// getBuild is GET /apps/{app}/builds/{id}.
func (s *Server) getBuild(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	b := s.builds.get(r.PathValue("id"))
	if b == nil || b.appName() != app.Name || b.appID != app.ID {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "Couldn't find that build: %s.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.buildView(r, b))
}
