package api

import (
	"net/http"
	"time"

	"hako/engine"
)

// AppView is an app in the Platform API's shape.
type AppView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Stack      NameRef   `json:"stack"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ReleasedAt time.Time `json:"released_at"`
	WebURL     string    `json:"web_url"`
	GitURL     string    `json:"git_url"`
	Release    int       `json:"current_release"`
	// The rest completes the Platform API's app, which clients such as
	// the heroku CLI read.
	BuildStack  NameRef `json:"build_stack"`
	Owner       Owner   `json:"owner"`
	Region      NameRef `json:"region"`
	SlugSize    int64   `json:"slug_size"`
	RepoSize    int64   `json:"repo_size"`
	Maintenance bool    `json:"maintenance"`
	// Isolation says how the server isolates the app's dynos and builds
	// (hako's own: the Platform API has no such field).
	Isolation string `json:"isolation,omitempty"`
	// Limits says what bounds the app's deploys (hako's own too).
	Limits string `json:"limits,omitempty"`
}

// Owner is who owns an app.
type Owner struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// NameRef is the Platform API's nested {"name": …} reference.
type NameRef struct {
	Name string `json:"name"`
}

func (s *Server) view(a *engine.App) AppView {
	v := AppView{
		ID: a.ID, Name: a.Name, Stack: NameRef{a.Stack}, CreatedAt: a.CreatedAt,
		UpdatedAt: a.UpdatedAt, ReleasedAt: a.UpdatedAt, WebURL: s.url(s.WebURL, a.Name),
		GitURL: s.url(s.GitURL, a.Name), Release: a.CurrentRelease,
		BuildStack: NameRef{a.Stack}, Owner: s.owner(a.Owner), Region: NameRef{"local"},
		Maintenance: a.Maintenance,
	}
	if s.Engine.Supervisor != nil {
		v.Isolation = s.Engine.Supervisor.Isolation()
	}
	v.Limits = s.Engine.Limits.String()
	if rel, err := s.Engine.Release(a.Name, 0); err == nil && rel.SlugID != "" {
		if slug, err := s.Engine.Slug(rel.SlugID); err == nil {
			v.SlugSize = slug.Size
		}
	}
	return v
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	apps, err := s.Engine.Apps()
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []AppView{}
	for _, a := range apps {
		if canSee(r, a) {
			out = append(out, s.view(a))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	a, err := s.Engine.CreateApp(body.Name, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.view(a))
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	a, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(a))
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) {
	a, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.Engine.DestroyApp(a.Name); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(a))
}

func (s *Server) url(f func(string) string, app string) string {
	if f == nil {
		return ""
	}
	return f(app)
}

// patchApp changes an app's settings as Heroku's API does:
// {"maintenance": true} and {"name": NEW} (a rename: the app's dynos
// start again under the new name). A build_stack other than hako's one
// stack is refused. Bad input changes nothing.
func (s *Server) patchApp(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Maintenance *bool   `json:"maintenance"`
		Name        *string `json:"name"`
		BuildStack  *string `json:"build_stack"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	a, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if body.BuildStack != nil && *body.BuildStack != engine.Stack {
		s.fail(w, engine.Errorf(engine.EINVALID, "Stack %q is not available here: hako runs %s.", *body.BuildStack, engine.Stack))
		return
	}
	if body.Name != nil && *body.Name != a.Name {
		// As on Heroku, a collaborator may not rename the app: the old
		// name, free again, could be taken by them, and the owner's
		// pushes and commands to it would reach their app.
		if err := s.Engine.CheckAccess(s.by(r), a.Name, engine.AccessOwner); err != nil {
			s.fail(w, engine.Errorf(engine.EFORBIDDEN, "Only the owner of %s may rename it.", a.Name))
			return
		}
		if err := engine.ValidateAppName(*body.Name); err != nil {
			s.fail(w, err)
			return
		}
		if _, err := s.Engine.App(*body.Name); err == nil {
			s.fail(w, engine.Errorf(engine.ECONFLICT, "Name %s is already taken", *body.Name))
			return
		}
	}
	if body.Maintenance != nil {
		if a, err = s.Engine.SetMaintenance(a.Name, *body.Maintenance); err != nil {
			s.fail(w, err)
			return
		}
	}
	if body.Name != nil && *body.Name != a.Name {
		if a, err = s.Engine.RenameApp(r.Context(), a.Name, *body.Name, s.by(r)); err != nil {
			s.fail(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, s.view(a))
}
