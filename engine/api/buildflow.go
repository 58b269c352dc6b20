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

// pendingBuilds counts the builds of the flow not yet ended, by user:
// each waits for its app's lock in a goroutine of its own, so their
// number is bounded as the sources are.
type pendingBuilds struct {
	mu     sync.Mutex
	byUser map[string]int
}

// start counts one more of user's builds, unless maxPending builds or
// maxPendingPerUser of user's run already; it reports the counts.
func (p *pendingBuilds) start(user string) (all, mine int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.byUser {
		all += n
	}
	mine = p.byUser[user]
	if all >= maxPending || mine >= maxPendingPerUser {
		return all, mine, false
	}
	if p.byUser == nil {
		p.byUser = map[string]int{}
	}
	p.byUser[user]++
	return all, mine, true
}

func (p *pendingBuilds) end(user string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byUser[user]--; p.byUser[user] <= 0 {
		delete(p.byUser, user)
	}
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

func (s *Server) buildView(r *http.Request, b *engine.Build) BuildView {
	v := BuildView{ID: b.ID, App: IDRef{b.AppID}, Buildpacks: []NameURL{}, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt,
		OutputStreamURL: baseURL(r) + "/build-output/" + b.Secret,
		Stack:           engine.Stack, Status: b.Status, User: s.owner(b.User)}
	if b.ReleaseID != "" {
		v.Release = &IDRef{b.ReleaseID}
	}
	if b.SlugID != "" {
		v.Slug = &IDRef{b.SlugID}
	}
	v.SourceBlob.Checksum, v.SourceBlob.URL, v.SourceBlob.Version = b.Checksum, b.SourceURL, optional(b.Version)
	for _, p := range b.Buildpacks {
		v.Buildpacks = append(v.Buildpacks, NameURL{Name: p, URL: p})
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
	user := s.by(r)
	if all, mine, ok := s.builds.start(user); !ok {
		s.fail(w, engine.Errorf(engine.EINVALID, "%d builds are running or waiting already, %d of yours (at most %d): wait for one to end.", all, mine, maxPendingPerUser))
		return
	}
	f, err := s.openSource(body.SourceBlob.URL, body.SourceBlob.Checksum)
	if err != nil {
		s.builds.end(user)
		s.fail(w, err)
		return
	}
	b, err := s.Engine.NewBuild(app.Name, engine.BuildSource{URL: body.SourceBlob.URL, Version: body.SourceBlob.Version, Checksum: body.SourceBlob.Checksum}, user)
	if err != nil {
		f.Close()
		s.builds.end(user)
		s.fail(w, err)
		return
	}
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

// runBuild builds and releases a source, as a push does; the engine
// records how it ended, and why in its output.
func (s *Server) runBuild(b *engine.Build, f *os.File, app string) {
	defer s.builds.end(b.User)
	defer f.Close()
	_, err := s.Engine.Deploy(context.Background(), engine.DeployRequest{
		App: app, Commit: b.Version, User: b.User, Source: f, BuildID: b.ID,
	})
	if engine.ErrorCode(err) == engine.EINTERNAL {
		s.logf("build of %s: %v", app, err)
	}
}

// readBuildOutput is GET /build-output/{secret}: the build's output as it
// happens, in plain text, until the build ends; a build that ended (in
// this server's life or an earlier one's) answers its whole output.
func (s *Server) readBuildOutput(w http.ResponseWriter, r *http.Request) {
	out, err := s.Engine.BuildOutputBySecret(r.PathValue("secret"))
	if err != nil {
		s.fail(w, err)
		return
	}
	streamText(w, r, func(sent int) ([]byte, bool, <-chan struct{}) { return out.Read(int64(sent)) })
}

// listBuilds is GET /apps/{app}/builds, oldest first.
func (s *Server) listBuilds(w http.ResponseWriter, r *http.Request) {
	builds, err := s.Engine.Builds(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []BuildView{}
	for _, b := range builds {
		out = append(out, s.buildView(r, b))
	}
	writeJSON(w, http.StatusOK, out)
}

// getBuild is GET /apps/{app}/builds/{id}.
func (s *Server) getBuild(w http.ResponseWriter, r *http.Request) {
	builds, err := s.Engine.Builds(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	for _, b := range builds {
		if b.ID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, s.buildView(r, b))
			return
		}
	}
	s.fail(w, engine.Errorf(engine.ENOTFOUND, "Couldn't find that build: %s.", r.PathValue("id")))
}
