package api

import (
	"net/http"
	"time"

	"hako/engine"
)

// accountRoutes are the routes of users, tokens, collaborators and
// workshops; their rules are in authz.go.
func (s *Server) accountRoutes(mux *routes) {
	mux.HandleFunc("GET /users", s.listUsers)
	mux.HandleFunc("POST /users", s.createUser)
	mux.HandleFunc("DELETE /users/{user}", s.deleteUser)
	mux.HandleFunc("GET /oauth/authorizations", s.listTokens)
	mux.HandleFunc("POST /oauth/authorizations", s.createToken)
	mux.HandleFunc("DELETE /oauth/authorizations/{id}", s.revokeToken)
	mux.HandleFunc("GET /apps/{app}/collaborators", s.listCollaborators)
	mux.HandleFunc("POST /apps/{app}/collaborators", s.addCollaborator)
	mux.HandleFunc("DELETE /apps/{app}/collaborators/{email}", s.removeCollaborator)
	mux.HandleFunc("POST /workshop/seed", s.seedWorkshop)
	mux.HandleFunc("POST /workshop/reset", s.resetWorkshop)
}

// UserRef is the Platform API's nested user.
type UserRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// owner is the Owner of an app whose owner has that email.
func (s *Server) owner(email string) Owner {
	o := Owner{Email: email}
	if u, err := s.Engine.User(email); err == nil {
		o.ID = u.ID
	}
	return o
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.Engine.Users()
	if err != nil {
		s.fail(w, err)
		return
	}
	if users == nil {
		users = []*engine.User{}
	}
	writeJSON(w, http.StatusOK, users)
}

// createUser makes an account: {"email": …, "admin": false, "public_key":
// "ssh-ed25519 …"} (the key is optional), and a first API token for it,
// whose secret the answer carries this once ("token").
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email     string `json:"email"`
		Admin     bool   `json:"admin"`
		PublicKey string `json:"public_key"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	var keys []string
	if body.PublicKey != "" {
		keys = append(keys, body.PublicKey)
	}
	u, err := s.Engine.AddUser(body.Email, body.Admin, keys...)
	if err != nil {
		s.fail(w, err)
		return
	}
	secret, _, err := s.Engine.CreateToken(u.Email, "users:add")
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		*engine.User
		Token string `json:"token"`
	}{u, secret})
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.Engine.User(r.PathValue("user"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.Engine.RemoveUser(s.by(r), u.Email); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// TokenView is an API token in the shape of the Platform API's OAuth
// authorization; AccessToken.Token is set only in the answer that makes
// it.
type TokenView struct {
	ID          string    `json:"id"`
	Description string    `json:"description"`
	Scope       []string  `json:"scope"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	AccessToken *struct {
		ID        string `json:"id"`
		Token     string `json:"token"`
		ExpiresIn *int   `json:"expires_in"`
	} `json:"access_token"`
	User UserRef `json:"user"`
}

func (s *Server) tokenView(r *http.Request, t *engine.Token) TokenView {
	u := userOf(r)
	return TokenView{ID: t.ID, Description: t.Description, Scope: []string{"global"}, CreatedAt: t.CreatedAt, UpdatedAt: t.CreatedAt, User: UserRef{ID: u.ID, Email: u.Email}}
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Engine.Tokens(s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []TokenView{}
	for _, t := range ts {
		out = append(out, s.tokenView(r, t))
	}
	writeJSON(w, http.StatusOK, out)
}

// createToken makes a token for the caller: {"description": …}.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Description string `json:"description"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if len(body.Description) > 200 {
		s.fail(w, engine.Errorf(engine.EINVALID, "A token's description may be at most 200 bytes."))
		return
	}
	secret, t, err := s.Engine.CreateToken(s.by(r), body.Description)
	if err != nil {
		s.fail(w, err)
		return
	}
	v := s.tokenView(r, t)
	v.AccessToken = &struct {
		ID        string `json:"id"`
		Token     string `json:"token"`
		ExpiresIn *int   `json:"expires_in"`
	}{ID: t.ID, Token: secret}
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.Engine.RevokeToken(s.by(r), r.PathValue("id")); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// CollaboratorView is a collaborator in the Platform API's shape; the
// owner is listed first with the role "owner".
type CollaboratorView struct {
	ID          string    `json:"id"`
	App         AppRef    `json:"app"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Permissions []string  `json:"permissions"`
	Role        string    `json:"role"`
	User        struct {
		ID        string `json:"id"`
		Email     string `json:"email"`
		Federated bool   `json:"federated"`
	} `json:"user"`
}

func (s *Server) collaboratorView(a *engine.App, c engine.Collaborator) CollaboratorView {
	v := CollaboratorView{App: AppRef{ID: a.ID, Name: a.Name}, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Permissions: []string{}, Role: "collaborator"}
	if c.Owner {
		v.Role = "owner"
	}
	v.User.Email = c.Email
	if u, err := s.Engine.User(c.Email); err == nil {
		v.User.ID, v.ID = u.ID, u.ID
	}
	return v
}

func (s *Server) listCollaborators(w http.ResponseWriter, r *http.Request) {
	a, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	cs, err := s.Engine.Collaborators(a.Name)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := []CollaboratorView{}
	for _, c := range cs {
		out = append(out, s.collaboratorView(a, c))
	}
	writeJSON(w, http.StatusOK, out)
}

// addCollaborator shares an app: {"user": "EMAIL"}, as `heroku
// access:add` sends it.
func (s *Server) addCollaborator(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User string `json:"user"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.Engine.AddCollaborator(r.PathValue("app"), body.User, s.by(r)); err != nil {
		s.fail(w, err)
		return
	}
	a, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.collaboratorView(a, engine.Collaborator{Email: body.User}))
}

func (s *Server) removeCollaborator(w http.ResponseWriter, r *http.Request) {
	a, err := s.Engine.App(r.PathValue("app"))
	if err != nil {
		s.fail(w, err)
		return
	}
	email := r.PathValue("email")
	if err := s.Engine.RemoveCollaborator(a.Name, email, s.by(r)); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.collaboratorView(a, engine.Collaborator{Email: email}))
}

// seedWorkshop makes the students of a class: {"users": 30}.
func (s *Server) seedWorkshop(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Users int `json:"users"`
	}
	if err := decode(r, &body); err != nil {
		s.fail(w, err)
		return
	}
	students, err := s.Engine.SeedWorkshop(body.Users, s.by(r))
	if err != nil {
		s.fail(w, err)
		return
	}
	type seat struct {
		engine.Student
		WebURL string `json:"web_url"`
		GitURL string `json:"git_url"`
		APIURL string `json:"api_url,omitempty"`
	}
	out := []seat{}
	for _, st := range students {
		out = append(out, seat{Student: st, WebURL: s.url(s.WebURL, st.App), GitURL: s.url(s.GitURL, st.App), APIURL: s.APIURL})
	}
	writeJSON(w, http.StatusCreated, out)
}

// resetWorkshop destroys every student's apps.
func (s *Server) resetWorkshop(w http.ResponseWriter, r *http.Request) {
	destroyed, err := s.Engine.ResetWorkshop(s.by(r))
	if destroyed == nil {
		destroyed = []string{}
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"destroyed": destroyed})
}
