package engine

import (
	"fmt"
	"slices"
)

// StudentDomain is the domain of the students' emails:
// student1@hako.local, student2@hako.local, …
const StudentDomain = "hako.local"

// MaxStudents bounds workshop:seed: a class, not a load test.
const MaxStudents = 500

// Student is one seat of a workshop: an account, its app and a token.
type Student struct {
	Email string `json:"email"`
	App   string `json:"app"`
	// Token is the new API token's secret, shown this once.
	Token string `json:"token,omitempty"`
	// Skipped, when set, says why this seat was left as it was: nothing
	// was made for it and it has no new token.
	Skipped string `json:"skipped,omitempty"`
}

// SeedWorkshop makes students student1…studentN, each with an app of
// their name (student1, …) that they own and a new API token. A seat
// whose app exists already is skipped, with a line saying why, and the
// seed goes on: one the student owns is in use (their tokens stay and
// no new one is made, so seeding 30 then 35 prints only the 5 new
// sheets); one owned by someone else, or a user of the student's email
// who is not a student, is left alone. After workshop:reset the students
// have no apps: the next seed gives each a new app and token. Returns
// EINVALID for a bad n; anything else that fails for one seat skips it.
func (e *Engine) SeedWorkshop(n int, by string) ([]Student, error) {
	if n < 1 || n > MaxStudents {
		return nil, Errorf(EINVALID, "--users must be between 1 and %d.", MaxStudents)
	}
	out := make([]Student, 0, n)
	for i := 1; i <= n; i++ {
		email, app := studentNames(i)
		st, err := e.seedStudent(email, app)
		if err != nil {
			if ErrorCode(err) == EINTERNAL {
				return nil, err
			}
			st = Student{Email: email, App: app, Skipped: ErrorMessage(err)}
		}
		out = append(out, st)
	}
	e.Logf("workshop: %s seeded %d students", by, n)
	return out, nil
}

// seedStudent makes one seat, or says (as an error) why it is skipped.
func (e *Engine) seedStudent(email, app string) (Student, error) {
	st := Student{Email: email, App: app}
	u, err := e.users().User(email)
	if err != nil {
		u = nil
	}
	switch {
	case err == nil && !u.Student:
		return st, Errorf(ECONFLICT, "%s is a user who is not a student: remove them to seat them.", email)
	case err != nil && ErrorCode(err) != ENOTFOUND:
		return st, err
	}
	switch a, err := e.Store.App(app); {
	case err == nil && a.Owner == email:
		return st, Errorf(ECONFLICT, "The app %s exists already and is theirs: their sheet and tokens are unchanged.", app)
	case err == nil:
		return st, Errorf(ECONFLICT, "The app %s belongs to %s: destroy or rename it to seat %s.", app, a.Owner, email)
	case ErrorCode(err) != ENOTFOUND:
		return st, err
	}
	if u == nil {
		u = &User{ID: newID(), Email: email, Student: true}
		if err := e.users().CreateUser(u, nil); err != nil {
			return st, err
		}
	}
	if _, err := e.CreateApp(app, email); err != nil {
		return st, err
	}
	secret, _, err := e.CreateToken(email, "workshop:seed")
	if err != nil {
		return st, err
	}
	st.Token = secret
	return st, nil
}

func studentNames(i int) (email, app string) {
	app = fmt.Sprintf("student%d", i)
	return app + "@" + StudentDomain, app
}

// ResetWorkshop destroys every app a student owns, so the next class
// starts from nothing; the students and their tokens stay. It returns
// the apps destroyed, and goes on past an app it fails to destroy.
func (e *Engine) ResetWorkshop(by string) ([]string, error) {
	users, err := e.users().Users()
	if err != nil {
		return nil, err
	}
	var students []string
	for _, u := range users {
		if u.Student {
			students = append(students, u.Email)
		}
	}
	apps, err := e.Apps()
	if err != nil {
		return nil, err
	}
	var destroyed []string
	var firstErr error
	for _, a := range apps {
		if !slices.Contains(students, a.Owner) {
			continue
		}
		if err := e.DestroyApp(a.Name); err != nil {
			e.Logf("workshop: destroy %s: %v", a.Name, err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		destroyed = append(destroyed, a.Name)
	}
	e.Logf("workshop: %s destroyed %d students' apps", by, len(destroyed))
	return destroyed, firstErr
}
