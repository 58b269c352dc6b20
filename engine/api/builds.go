package api

import (
	"fmt"
	"net/http"

	"hako/engine"
	"hako/engine/frame"
)

// createBuild takes Heroku's JSON build (see createSourceBuild) or builds
// and releases an uploaded tar.gz of an app's source
// (`hako builds:create`), Heroku's deploy without git. The answer streams
// frames (package frame): the build output as it happens, then Exit with
// 0 for a release, 1 for a failed build.
func (s *Server) createBuild(w http.ResponseWriter, r *http.Request) {
	if isJSON(r) {
		s.createSourceBuild(w, r)
		return
	}
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	version := r.URL.Query().Get("version")
	if len(version) > 64 {
		s.fail(w, engine.Errorf(engine.EINVALID, "The version is at most 64 characters."))
		return
	}
	// The archive is read while the output streams back: HTTP/1.1 needs
	// full duplex for that.
	_ = http.NewResponseController(w).EnableFullDuplex()
	w.Header().Set("Content-Type", "application/vnd.hako.frames")
	w.WriteHeader(http.StatusOK)
	fw := frame.NewWriter(flushWriter{w})
	_, err = s.Engine.Deploy(r.Context(), engine.DeployRequest{
		App: app.Name, Commit: version, User: s.by(r), Out: fw,
		// Compressed, the archive is smaller than the source it holds,
		// which extraction bounds in turn.
		Source: http.MaxBytesReader(w, r.Body, s.Engine.Limits.WithDefaults().SourceBytes),
	})
	code := byte(0)
	if err != nil {
		code = 1
		if engine.ErrorCode(err) == engine.EINTERNAL {
			s.logf("build of %s: %v", app.Name, err)
		}
		if engine.ErrorCode(err) != engine.EBUILD {
			fmt.Fprintf(fw, " !     %s\n", engine.ErrorMessage(err))
		}
	}
	_ = fw.Frame(frame.Exit, []byte{code})
}

// flushWriter flushes after every write, so build output reaches the
// client as it happens.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	flush(f.w)
	return n, err
}
