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
	Token string `json:"token"`
}

// SeedWorkshop makes students student1…studentN, each with an app of
// their name (student1, …) that they own and a new API token. Students
// and apps there already are kept (a second seed prints the sheet again,
// with new tokens). Returns EINVALID, or ECONFLICT when an app of a
// student's name belongs to someone else; then it makes nothing.
func (e *Engine) SeedWorkshop(n int, by string) ([]Student, error) {
	if n < 1 || n > MaxStudents {
		return nil, Errorf(EINVALID, "--users must be between 1 and %d.", MaxStudents)
	}
	for i := 1; i <= n; i++ {
		email, app := studentNames(i)
		if a, err := e.Store.App(app); err == nil && a.Owner != email {
			return nil, Errorf(ECONFLICT, "The app %s belongs to %s, not to %s: destroy or rename it first.", app, a.Owner, email)
		}
		if u, err := e.users().User(email); err == nil && !u.Student {
			return nil, Errorf(ECONFLICT, "%s is a user who is not a student: remove them first.", email)
		}
	}
	out := make([]Student, 0, n)
	for i := 1; i <= n; i++ {
		email, app := studentNames(i)
		if _, err := e.users().User(email); ErrorCode(err) == ENOTFOUND {
			u := &User{ID: newID(), Email: email, Student: true}
			if err := e.users().CreateUser(u, nil); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		if _, err := e.Store.App(app); ErrorCode(err) == ENOTFOUND {
			if _, err := e.CreateApp(app, email); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		secret, _, err := e.CreateToken(email, "workshop:seed")
		if err != nil {
			return nil, err
		}
		out = append(out, Student{Email: email, App: app, Token: secret})
	}
	e.Logf("workshop: %s seeded %d students", by, n)
	return out, nil
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
