package api

import (
	"cmp"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"hako/engine"
)

// source is an upload slot made by POST /sources: the put_url takes a
// tar.gz of an app's source, the get_url gives it back, and a build names
// the get_url as its source_blob. It lives an hour (blobTTL).
// The store keeps it, and its upload lies in HAKO_HOME (engine.Source),
// so a restart loses neither.
type source struct {
	file string // the upload's path; removed when the source expires
	mu   sync.Mutex
	// rec is the source as the store keeps it; its Size is the bytes
	// uploaded, -1 before the upload.
	rec  engine.Source
	size int64
}

func (src *source) path() string { return src.file }

// dropSource forgets an expired source with its upload.
func (s *Server) dropSource(src *source) {
	src.mu.Lock()
	rec := src.rec
	src.mu.Unlock()
	s.Engine.DropSource(&rec, src.file)
}

// restoreSources takes up again the sources an earlier server's life
// made, which the store kept: their put_urls take uploads and their
// get_urls name what was uploaded, until they expire.
func (s *Server) restoreSources() {
	if s.Engine == nil {
		return
	}
	list, err := s.Engine.Sources()
	if err != nil {
		s.logf("restore the sources: %v", err)
		return
	}
	for _, rec := range list {
		src := &source{file: s.Engine.SourcePath(rec), rec: *rec, size: rec.Size}
		s.sources.restore(rec.Secret, rec.User, src, s.dropSource, rec.ExpiresAt)
	}
}

// createSource is POST /sources.
func (s *Server) createSource(w http.ResponseWriter, r *http.Request) {
	key, user := secret(), s.by(r)
	// Counted before anything is written: a refused source leaves
	// nothing behind.
	src := &source{size: -1}
	if !s.sources.add(key, user, src, s.dropSource) {
		s.fail(w, engine.Errorf(engine.EINVALID, "Too many sources wait for their upload or build (at most %d of yours, each for an hour): use or let expire the ones made.", maxPendingPerUser))
		return
	}
	src.mu.Lock()
	rec, file, err := s.Engine.NewSource(key, user, time.Now().Add(cmp.Or(s.sources.ttl, blobTTL)))
	if err == nil {
		src.rec, src.file = *rec, file
	}
	src.mu.Unlock()
	if err != nil {
		s.sources.remove(key)
		s.fail(w, err)
		return
	}
	u := baseURL(r) + "/source-blobs/" + key
	writeJSON(w, http.StatusCreated, map[string]any{"source_blob": map[string]string{"get_url": u, "put_url": u}})
}

// putSourceBlob is PUT /source-blobs/{secret}: the source's tar.gz, at
// most the server's source limit (compressed, it is smaller than what it
// holds, which the build's extraction bounds in turn).
func (s *Server) putSourceBlob(w http.ResponseWriter, r *http.Request) {
	src, ok := s.sources.get(r.PathValue("secret"))
	if !ok {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This source URL is unknown or has expired: create a source again."))
		return
	}
	limit := s.Engine.Limits.WithDefaults().SourceBytes
	src.mu.Lock()
	defer src.mu.Unlock()
	tmp := src.path() + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		s.fail(w, err)
		return
	}
	n, err := io.Copy(f, io.LimitReader(idleBody(w, r), limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = engine.Errorf(engine.EINVALID, "The source is larger than this server allows (%d MiB, --max-source).", limit>>20)
	}
	if err != nil {
		_ = os.Remove(tmp)
		if engine.ErrorCode(err) == engine.EINTERNAL {
			err = engine.Errorf(engine.EINVALID, "The source upload did not arrive whole: %v", err)
		}
		s.fail(w, err)
		return
	}
	if err := os.Rename(tmp, src.path()); err != nil {
		s.fail(w, err)
		return
	}
	src.size, src.rec.Size = n, n
	// Recorded before the answer: an upload acknowledged survives a
	// restart.
	if err := s.Engine.SaveSource(&src.rec); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// getSourceBlob is GET /source-blobs/{secret}: the uploaded source.
func (s *Server) getSourceBlob(w http.ResponseWriter, r *http.Request) {
	src, ok := s.sources.get(r.PathValue("secret"))
	if ok {
		src.mu.Lock()
		ok = src.size >= 0
		src.mu.Unlock()
	}
	if !ok {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "This source URL is unknown, has expired or has no upload yet."))
		return
	}
	f, err := os.Open(src.path())
	if err != nil {
		s.fail(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/gzip")
	http.ServeContent(w, r, "source.tgz", time.Time{}, f)
}
