package api

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"hako/engine"
)

// source is an upload slot made by POST /sources: the put_url takes a
// tar.gz of an app's source, the get_url gives it back, and a build names
// the get_url as its source_blob. It lives an hour (blobTTL).
type source struct {
	dir string // holds "source.tgz"; removed when the source expires
	mu  sync.Mutex
	// size is the bytes uploaded; -1 before the upload.
	size int64
}

func (src *source) path() string { return filepath.Join(src.dir, "source.tgz") }

// createSource is POST /sources.
func (s *Server) createSource(w http.ResponseWriter, r *http.Request) {
	dir, err := s.Engine.MkdirTemp("source")
	if err != nil {
		s.fail(w, err)
		return
	}
	key := secret()
	if !s.sources.add(key, s.by(r), &source{dir: dir, size: -1}, func(src *source) { _ = os.RemoveAll(src.dir) }) {
		_ = os.RemoveAll(dir)
		s.fail(w, engine.Errorf(engine.EINVALID, "Too many sources wait for their upload or build (at most %d of yours, each for an hour): use or let expire the ones made.", maxPendingPerUser))
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
	src.size = n
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
