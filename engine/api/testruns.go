package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"hako/engine"
	"hako/engine/frame"
)

// createTestRun runs the tests of an uploaded tar.gz of an app's source
// (`hako ci`) on an app made for it. The query gives the run's id,
// branch, commit and cache_key. The answer streams frames: the build's
// and the test dynos' output as it happens, a Result frame holding the
// engine.TestRunResult, then Exit with 0 when the tests passed, 1 when
// they failed and 2 when the run errored.
func (s *Server) createTestRun(w http.ResponseWriter, r *http.Request) {
	app, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	q := r.URL.Query()
	_ = http.NewResponseController(w).EnableFullDuplex()
	w.Header().Set("Content-Type", "application/vnd.hako.frames")
	w.WriteHeader(http.StatusOK)
	fw := frame.NewWriter(flushWriter{w})
	res, err := s.Engine.TestRun(r.Context(), engine.TestRunRequest{
		App: app.Name, ID: q.Get("id"), Branch: q.Get("branch"), Commit: q.Get("commit"), CacheKey: q.Get("cache_key"),
		User: s.by(r), Out: fw,
		Source: http.MaxBytesReader(w, r.Body, s.Engine.Limits.WithDefaults().SourceBytes),
	})
	if err != nil {
		if engine.ErrorCode(err) == engine.EINTERNAL {
			s.logf("test run of %s: %v", app.Name, err)
		}
		fmt.Fprintf(fw, " !     %s\n", engine.ErrorMessage(err))
		res = &engine.TestRunResult{Status: engine.TestErrored, Message: engine.ErrorMessage(err), Nodes: []engine.TestNode{}}
	}
	data, _ := json.Marshal(res)
	_ = fw.Frame(frame.Result, data)
	code := byte(0)
	switch res.Status {
	case engine.TestFailed:
		code = 1
	case engine.TestErrored:
		code = 2
	}
	_ = fw.Frame(frame.Exit, []byte{code})
}
