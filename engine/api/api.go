// Package api serves hako's HTTP API over the engine. Paths and resource
// shapes follow Heroku's Platform API v3, so that clients written for it
// (and later features) extend this API rather than replace it.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"hako/engine"
	"hako/engine/logs"
)

// Server is the HTTP API. Every request needs a user's token, and every
// route checks what that user may do (authz.go).
type Server struct {
	Engine *engine.Engine
	// Token is the administrator's token (HAKO_HOME/api-token); users'
	// tokens are the engine's.
	Token string
	// Logs holds the apps' recent log lines; nil serves none.
	Logs LogReader
	// WebURL and GitURL give the URLs shown for an app; APIURL is where
	// other machines reach this API (for the workshop's sheets).
	WebURL, GitURL func(app string) string
	APIURL         string

	// Rendezvous takes the heroku CLI's attached one-off dynos; nil
	// refuses them.
	Rendezvous *Rendezvous
	// Context ends what requests leave running (detached one-off dynos)
	// when the server stops; nil means none ends them.
	Context context.Context
	// MaxTailsPerUser bounds the log tails one user holds open at once
	// (`hako logs --tail`, log sessions the heroku CLI reads);
	// MaxDetachedPerUser the detached one-off dynos (run:detached) one
	// user has running. Zero means the default, below zero no bound;
	// administrators have none (see userlimits.go).
	MaxTailsPerUser, MaxDetachedPerUser int

	tails, detached perUser

	sessions logSessions
	// imports are the slug imports waiting for their archive.
	imports pending[*slugImport]
	// sources are the uploads of POST /sources; builds counts the
	// builds of their sources not yet ended.
	sources pending[*source]
	builds  pendingBuilds
	// patterns are the routes Handler registered.
	patterns []string
	// Logf receives internal errors that users only see as a generic
	// message; nil means the standard logger.
	Logf func(format string, args ...any)
}

// LogReader is what the API reads apps' logs from (a logs.Buffer): the
// recent lines, and a tail of those to come.
type LogReader interface {
	// Recent returns up to n of the app's latest lines, oldest first
	// (all it keeps for 0 or less).
	Recent(app string, n int) []logs.Line
	// Subscribe tails the app's new lines until stop is called.
	Subscribe(app string) (tail *logs.Tail, stop func())
}

var _ LogReader = (*logs.Buffer)(nil)

// Handler returns the API's routes behind token authentication.
func (s *Server) Handler() http.Handler {
	s.restoreImports()
	s.restoreSources()
	mux := &routes{ServeMux: http.NewServeMux(), s: s}
	mux.HandleFunc("GET /account/keys", s.listKeys)
	mux.HandleFunc("POST /account/keys", s.createKey)
	mux.HandleFunc("DELETE /account/keys/{key}", s.deleteKey)
	mux.HandleFunc("GET /apps", s.listApps)
	// The paths the official heroku CLI asks for its user's apps and
	// account (with HEROKU_HOST pointing here).
	mux.HandleFunc("GET /users/{user}/apps", s.listApps)
	mux.HandleFunc("GET /users/{user}", s.userAccount)
	mux.HandleFunc("GET /account", s.account)
	mux.HandleFunc("GET /status", s.status)
	mux.HandleFunc("POST /apps", s.createApp)
	mux.HandleFunc("GET /apps/{app}", s.getApp)
	mux.HandleFunc("DELETE /apps/{app}", s.deleteApp)
	mux.HandleFunc("PATCH /apps/{app}", s.patchApp)
	mux.HandleFunc("GET /apps/{app}/dynos", s.listDynos)
	mux.HandleFunc("POST /apps/{app}/dynos", s.createDyno)
	mux.HandleFunc("DELETE /apps/{app}/dynos", s.restartDynos)
	mux.HandleFunc("DELETE /apps/{app}/dynos/{dyno}", s.restartDynos)
	mux.HandleFunc("POST /apps/{app}/dynos/{dyno}/actions/stop", s.restartDynos)
	mux.HandleFunc("GET /apps/{app}/config-vars", s.getConfig)
	mux.HandleFunc("PATCH /apps/{app}/config-vars", s.patchConfig)
	mux.HandleFunc("GET /apps/{app}/releases", s.listReleases)
	mux.HandleFunc("POST /apps/{app}/releases", s.createRelease)
	mux.HandleFunc("GET /apps/{app}/releases/{version}", s.getRelease)
	mux.HandleFunc("POST /apps/{app}/builds", s.createBuild)
	mux.HandleFunc("POST /apps/{app}/test-runs", s.createTestRun)
	mux.HandleFunc("GET /apps/{app}/buildpack-installations", s.listBuildpacks)
	mux.HandleFunc("PUT /apps/{app}/buildpack-installations", s.putBuildpacks)
	mux.HandleFunc("GET /apps/{app}/addons", s.listAddons)
	mux.HandleFunc("POST /apps/{app}/addons", s.createAddon)
	mux.HandleFunc("GET /apps/{app}/addons/{addon}", s.addonInfo)
	mux.HandleFunc("DELETE /apps/{app}/addons/{addon}", s.deleteAddon)
	s.attachmentRoutes(mux)
	mux.HandleFunc("POST /actions/addons/resolve", s.resolveAddon)
	mux.HandleFunc("GET /apps/{app}/domains", s.listDomains)
	mux.HandleFunc("POST /apps/{app}/domains", s.addDomain)
	mux.HandleFunc("DELETE /apps/{app}/domains", s.removeDomain)
	mux.HandleFunc("DELETE /apps/{app}/domains/{host}", s.removeDomain)
	mux.HandleFunc("GET /apps/{app}/formation", s.getFormation)
	mux.HandleFunc("PATCH /apps/{app}/formation", s.patchFormation)
	mux.HandleFunc("GET /apps/{app}/log-lines", s.logLines)
	mux.HandleFunc("POST /apps/{app}/log-sessions", s.createLogSession)
	mux.HandleFunc("GET /apps/{app}/log-drains", s.listDrains)
	mux.HandleFunc("POST /apps/{app}/log-drains", s.addDrain)
	mux.HandleFunc("DELETE /apps/{app}/log-drains/{drain...}", s.removeDrain)
	s.platformRoutes(mux)
	mux.HandleFunc("GET /apps/{app}/scheduler-jobs", s.listJobs)
	mux.HandleFunc("POST /apps/{app}/scheduler-jobs", s.addJob)
	mux.HandleFunc("DELETE /apps/{app}/scheduler-jobs/{id}", s.removeJob)
	mux.HandleFunc("POST /apps/{app}/scheduler-jobs/{id}/actions/run", s.runJob)
	s.stagingRoutes(mux)
	s.accountRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, engine.Errorf(engine.ENOTFOUND, "No such API path: %s %s", r.Method, r.URL.Path))
	})
	// A log session's URL carries its own secret, as Logplex URLs do.
	open := http.NewServeMux()
	open.HandleFunc("GET /log-sessions/{id}", s.readLogSession)
	// So do the blob URLs of slugs and sources (see blobs.go).
	open.HandleFunc("PUT /slug-blobs/{secret}", s.putSlugBlob)
	open.HandleFunc("GET /slug-blobs/{secret}", s.getSlugBlob)
	open.HandleFunc("PUT /source-blobs/{secret}", s.putSourceBlob)
	open.HandleFunc("GET /source-blobs/{secret}", s.getSourceBlob)
	open.HandleFunc("GET /build-output/{secret}", s.readBuildOutput)
	open.HandleFunc("GET /release-output/{id}", s.readReleaseOutput)
	open.HandleFunc("GET /pg-backup-blobs/{addon}/{backup}", s.getBackupBlob)
	open.Handle("/", s.auth(s.appIDs(mux)))
	s.compatRoutes(mux, open)
	s.patterns = mux.patterns
	return s.rawPaths(open)
}

// uuidRe matches the ids the API gives apps, which clients may use
// instead of names (the heroku CLI does, for add-ons).
var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// appIDs rewrites /apps/{id}/… to /apps/{name}/… (and the Data API's
// /client/v11/apps/{id}/…) so that every handler deals in names.
func (s *Server) appIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := "/apps/"
		if strings.HasPrefix(r.URL.Path, "/client/v11/apps/") {
			prefix = "/client/v11/apps/"
		}
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		id, tail, _ := strings.Cut(rest, "/")
		if ok && uuidRe.MatchString(id) {
			apps, err := s.Engine.Apps()
			if err != nil {
				s.fail(w, err)
				return
			}
			found := false
			for _, a := range apps {
				if a.ID == id {
					r.URL.Path = prefix + a.Name
					if tail != "" {
						r.URL.Path += "/" + tail
					}
					r.URL.RawPath = ""
					found = true
					break
				}
			}
			if !found {
				s.fail(w, engine.Errorf(engine.ENOTFOUND, "Couldn't find that app."))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// statusOf maps engine error codes to HTTP statuses, once for the API.
func statusOf(code string) int {
	switch code {
	case engine.ENOTFOUND:
		return http.StatusNotFound
	case engine.EINVALID, engine.EBUILD, engine.ECONFIRM:
		return http.StatusUnprocessableEntity
	case engine.ECONFLICT:
		return http.StatusConflict
	case engine.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case engine.EFORBIDDEN:
		return http.StatusForbidden
	case engine.ETOOMANY:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// ErrorBody is the Platform API's error shape.
type ErrorBody struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	code := engine.ErrorCode(err)
	if code == engine.EINTERNAL {
		s.logf("api: %v", err)
	}
	writeJSON(w, statusOf(code), ErrorBody{ID: code, Message: engine.ErrorMessage(err)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// maxBody bounds a request body. It is well above anything valid (config
// vars stop at 32 KB) so that an oversized value is refused by the rule
// that explains it, not by a truncated body.
const maxBody = 8 << 20

// decode reads a JSON body into v. An empty body leaves v as it is, as
// Heroku's API takes an empty POST; anything else must be exactly one
// JSON value in valid UTF-8. encoding/json would quietly turn invalid
// UTF-8 into U+FFFD and ignore what follows the value, so that
// `{"TG":"1"} xxx` or a mangled config value would change an app.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return engine.Errorf(engine.EINVALID, "Could not read the request body: %v", err)
	}
	if len(body) > maxBody {
		return engine.Errorf(engine.EINVALID, "Request body is larger than %d MiB.", maxBody>>20)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) || hasLoneSurrogate(body) {
		return engine.Errorf(engine.EINVALID, "Request body is not valid UTF-8: every string, config values included, must be UTF-8 text.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var e *engine.Error
		if errors.As(err, &e) {
			return e // a field's own explanation
		}
		return engine.Errorf(engine.EINVALID, "Request body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return engine.Errorf(engine.EINVALID, "Request body has data after its JSON value: send exactly one JSON value.")
	}
	return nil
}

// hasLoneSurrogate reports whether a JSON text escapes half of a UTF-16
// surrogate pair (`"\udc80"`), which decodes to U+FFFD: the text is valid
// UTF-8, the string it stands for is not.
func hasLoneSurrogate(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escaped character, perhaps a backslash
			continue
		}
		r, ok := hex4(b, i+2)
		if !ok || r < 0xd800 || r > 0xdfff {
			i++
			continue
		}
		if r >= 0xdc00 {
			return true // a low half with no high half before it
		}
		if lo, ok := hex4(b, i+8); !ok || i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' || lo < 0xdc00 || lo > 0xdfff {
			return true
		}
		i += 11 // past both halves
	}
	return false
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
