package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Review apps: once a parent app has them enabled, pushing any branch but
// main and master to it builds that branch into an app of its own,
// PARENT-BRANCH, set up from app.json (the parent's config vars unless
// app.json gives a value, fresh add-ons or a fork of the parent's
// database, postdeploy once); deleting the branch runs pr-predestroy and
// destroys that app.

// ReviewSettings says whether a parent app makes review apps.
type ReviewSettings struct {
	Parent  string `json:"parent"`
	Enabled bool   `json:"enabled"`
	// ForkDB gives each review app a copy of the parent's DATABASE
	// rather than an empty one.
	ForkDB    bool      `json:"fork_db"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ReviewApp is an app built from a branch of its parent's repository.
type ReviewApp struct {
	Name      string    `json:"name"`
	Parent    string    `json:"parent"`
	Branch    string    `json:"branch"`
	CreatedAt time.Time `json:"created_at"`
}

// ReviewStore keeps review apps' settings and records; the store
// implements it, one transaction per method. Deleting an app drops both
// its settings and its record.
type ReviewStore interface {
	// ReviewSettings returns a parent's settings, nil when it has none.
	ReviewSettings(parent string) (*ReviewSettings, error)
	// PutReviewSettings records a parent's settings. Returns ENOTFOUND.
	PutReviewSettings(rs *ReviewSettings) error
	// ReviewApps returns the review apps of parent ("" for all).
	ReviewApps(parent string) ([]*ReviewApp, error)
	// PutReviewApp records a review app. Returns ENOTFOUND.
	PutReviewApp(ra *ReviewApp) error
}

// AppJSONReader is a Builder that reads an app's app.json from its
// source the way its builds do (buildpacks.Builder).
type AppJSONReader interface {
	ReadAppJSON(dir string) (*AppJSON, error)
}

func (e *Engine) reviews() (ReviewStore, error) {
	rs, ok := e.Store.(ReviewStore)
	if !ok {
		return nil, Errorf(EINVALID, "This server keeps no review apps.")
	}
	return rs, nil
}

// EnableReviewApps makes pushes of other branches than main and master
// to parent build review apps, each with a fork of the parent's database
// when forkDB is set. Returns ENOTFOUND or EINVALID.
func (e *Engine) EnableReviewApps(parent string, enabled, forkDB bool) (*ReviewSettings, error) {
	app, err := e.App(parent)
	if err != nil {
		return nil, err
	}
	rs, err := e.reviews()
	if err != nil {
		return nil, err
	}
	if ra, _ := e.ReviewAppOf(app.Name); ra != nil && enabled {
		return nil, Errorf(EINVALID, "%s is a review app of %s: enable review apps on %s.", app.Name, ra.Parent, ra.Parent)
	}
	if forkDB && enabled {
		if _, err := e.pgAddon(app, "DATABASE"); err != nil {
			return nil, Errorf(EINVALID, "--fork-db copies %s's DATABASE, which it does not have: `hako addons:create heroku-postgresql -a %s` adds one.", app.Name, app.Name)
		}
	}
	s := &ReviewSettings{Parent: app.Name, Enabled: enabled, ForkDB: forkDB && enabled, UpdatedAt: time.Now().UTC()}
	if err := rs.PutReviewSettings(s); err != nil {
		return nil, err
	}
	return s, nil
}

// ReviewSettingsOf returns a parent's settings (disabled when it has
// none). Returns ENOTFOUND.
func (e *Engine) ReviewSettingsOf(parent string) (*ReviewSettings, error) {
	app, err := e.App(parent)
	if err != nil {
		return nil, err
	}
	rs, err := e.reviews()
	if err != nil {
		return &ReviewSettings{Parent: app.Name}, nil
	}
	s, err := rs.ReviewSettings(app.Name)
	if err != nil || s == nil {
		return &ReviewSettings{Parent: app.Name}, err
	}
	return s, nil
}

// ReviewApps lists parent's review apps. Returns ENOTFOUND.
func (e *Engine) ReviewApps(parent string) ([]*ReviewApp, error) {
	app, err := e.App(parent)
	if err != nil {
		return nil, err
	}
	rs, err := e.reviews()
	if err != nil {
		return nil, nil
	}
	return rs.ReviewApps(app.Name)
}

// ReviewAppOf returns the record of a review app, nil for another app.
func (e *Engine) ReviewAppOf(name string) (*ReviewApp, error) {
	rs, err := e.reviews()
	if err != nil {
		return nil, nil
	}
	all, err := rs.ReviewApps("")
	if err != nil {
		return nil, err
	}
	for _, ra := range all {
		if ra.Name == name {
			return ra, nil
		}
	}
	return nil, nil
}

// reviewOfBranch returns parent's review app of branch, nil when none.
func (e *Engine) reviewOfBranch(parent, branch string) (*ReviewApp, error) {
	rs, err := e.reviews()
	if err != nil {
		return nil, nil
	}
	list, err := rs.ReviewApps(parent)
	if err != nil {
		return nil, err
	}
	for _, ra := range list {
		if ra.Branch == branch {
			return ra, nil
		}
	}
	return nil, nil
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// ReviewAppName is the name of parent's review app of branch:
// PARENT-BRANCH, with the branch lowercased and every run of other
// characters than letters and digits made one dash. When that is too long
// for an app name (30 characters), or alt asks for the other form, it is
// shortened and ends with a hash of the parent and the whole branch, so
// branches that shorten alike get different names.
func ReviewAppName(parent, branch string, alt bool) string {
	b := strings.Trim(nonName.ReplaceAllString(strings.ToLower(branch), "-"), "-")
	if b == "" {
		b = "branch"
	}
	name := parent + "-" + b
	if !alt && ValidateAppName(name) == nil {
		return name
	}
	sum := sha256.Sum256([]byte(parent + "\x00" + branch))
	tag := hex.EncodeToString(sum[:])[:6]
	if len(name) > 30-7 {
		name = name[:30-7]
	}
	return strings.TrimRight(name, "-") + "-" + tag
}

// ReviewTarget returns the review app a push of branch to parent
// deploys, creating it when it is new, or "" when parent does not make
// review apps. srcDir holds the pushed source: its app.json says which
// of the parent's config vars the new app does not inherit. Returns
// EINVALID or ECONFLICT (no free name).
func (e *Engine) ReviewTarget(ctx context.Context, parent, branch, srcDir, user string, out io.Writer) (string, error) {
	s, err := e.ReviewSettingsOf(parent)
	if err != nil || !s.Enabled {
		return "", err
	}
	if ra, err := e.reviewOfBranch(parent, branch); err != nil || ra != nil {
		if ra != nil {
			if _, aerr := e.App(ra.Name); aerr == nil {
				return ra.Name, nil
			}
		}
		if err != nil {
			return "", err
		}
	}
	var aj *AppJSON
	if r, ok := e.Builder.(AppJSONReader); ok {
		if aj, err = r.ReadAppJSON(srcDir); err != nil {
			return "", err
		}
	}
	name := ""
	for _, alt := range []bool{false, true} {
		n := ReviewAppName(parent, branch, alt)
		if _, err := e.Store.App(n); ErrorCode(err) == ENOTFOUND {
			name = n
			break
		}
	}
	if name == "" {
		return "", Errorf(ECONFLICT, "No free name for the review app of branch %s: destroy %s.", cleanBranch(branch), ReviewAppName(parent, branch, false))
	}
	if err := e.createReviewApp(ctx, name, parent, branch, aj, s.ForkDB, user, out); err != nil {
		return "", err
	}
	return name, nil
}

// createReviewApp makes the review app with its v1 holding the parent's
// config vars, less those of the parent's add-ons and those app.json
// gives a value or a generator, plus HEROKU_PARENT_APP_NAME and
// HEROKU_BRANCH, and with a fork of the
// parent's database when forkDB is set.
func (e *Engine) createReviewApp(ctx context.Context, name, parent, branch string, aj *AppJSON, forkDB bool, user string, out io.Writer) error {
	pa, err := e.App(parent)
	if err != nil {
		return err
	}
	pcfg, err := e.Config(parent)
	if err != nil {
		return err
	}
	cfg := maps.Clone(pcfg)
	on, err := e.attachmentsOn(pa.Name)
	if err != nil {
		return err
	}
	for _, a := range on {
		delete(cfg, a.ConfigVar())
	}
	if aj != nil {
		for k, v := range aj.Env {
			if v.HasValue || v.Generator != "" {
				delete(cfg, k)
			}
		}
	}
	// As Heroku's review apps: who they are and where they come from.
	// (HEROKU_APP_NAME every dyno has.)
	cfg["HEROKU_PARENT_APP_NAME"], cfg["HEROKU_BRANCH"] = parent, branch
	now := time.Now().UTC()
	app := &App{ID: newID(), Name: name, Stack: Stack, CreatedAt: now, UpdatedAt: now, Formation: map[string]int{}, Buildpacks: pa.Buildpacks,
		Owner: pa.Owner, Collaborators: slices.Clone(pa.Collaborators)}
	first := &Release{App: name, Version: 1, Description: "Initial release", User: user, CreatedAt: now, Status: ReleaseSucceeded, Config: cfg}
	if err := e.withinAppLimit(pa.Owner, func() error { return e.Store.CreateApp(app, first) }); err != nil {
		return err
	}
	e.Routes.SetBackends(name, nil)
	e.forgetLogs(name)
	e.log(name, "api", "Release v1 created by user %s", user)
	rs, _ := e.reviews()
	if err := rs.PutReviewApp(&ReviewApp{Name: name, Parent: parent, Branch: branch, CreatedAt: now}); err != nil {
		return err
	}
	fmt.Fprintf(out, "-----> Created review app %s of %s for branch %s\n", name, parent, cleanBranch(branch))
	if !forkDB {
		return nil
	}
	defer e.lock(name)()
	url, err := e.forkAddon(ctx, app, parent, "DATABASE", "", "DATABASE", user, out)
	if err != nil {
		fmt.Fprintf(out, " !     The fork of %s's database failed: %s\n", parent, ErrorMessage(err))
		return err
	}
	_, err = e.configRelease(ctx, name, user, map[string]*string{"DATABASE_URL": &url}, "Attach DATABASE (heroku-postgresql, forked)", out)
	return err
}

// forkFor resolves app.json's {"options": {"fork": …}} for app: a
// review app forks its parent's database (fork names the parent, or is
// PARENT, or PARENT::ATTACHMENT), and may fork no other; for any other
// app the option is ignored (the same app.json serves the parent and its
// review apps) and parent is "".
func (e *Engine) forkFor(app, fork string) (parent, as string, err error) {
	ra, err := e.ReviewAppOf(app)
	if err != nil || ra == nil {
		return "", "", err
	}
	name, as, _ := strings.Cut(fork, "::")
	if name != "PARENT" && name != ra.Parent {
		return "", "", Errorf(EINVALID, "a review app may fork only its parent's database (%s), not %s's", ra.Parent, name)
	}
	return ra.Parent, as, nil
}

// DestroyReviewApp runs the review app's pr-predestroy script (app.json's
// scripts.pr-predestroy, from its current release) and destroys it with
// its add-ons. Returns ENOTFOUND or EINVALID (not a review app).
func (e *Engine) DestroyReviewApp(ctx context.Context, name, user string, out io.Writer) error {
	ra, err := e.ReviewAppOf(name)
	if err != nil {
		return err
	}
	if ra == nil {
		return Errorf(EINVALID, "%s is not a review app.", name)
	}
	if _, rel, slug, err := e.current(name); err == nil && slug != nil {
		if aj := slugAppJSON(slug); aj != nil && aj.Scripts.PrPredestroy != "" {
			fmt.Fprintf(out, "-----> Running pr-predestroy script of %s (v%d)...\n", name, rel.Version)
			code, err := e.runScript(ctx, name, "predestroy", aj.Scripts.PrPredestroy, user, out)
			switch {
			case err != nil:
				fmt.Fprintf(out, " !     The pr-predestroy script failed: %s; %s is destroyed all the same.\n", ErrorMessage(err), name)
			case code != 0:
				fmt.Fprintf(out, " !     The pr-predestroy script exited with status %d; %s is destroyed all the same.\n", code, name)
			}
		}
	}
	if err := e.DestroyApp(name); err != nil {
		return err
	}
	fmt.Fprintf(out, "-----> Destroyed review app %s\n", name)
	return nil
}

// cleanBranch is a branch name fit for a message: at most 60 characters
// of it, as git allows no control characters in it anyway.
func cleanBranch(b string) string {
	if r := []rune(b); len(r) > 60 {
		return string(r[:57]) + "..."
	}
	return b
}

// newAddon is a new add-on record of p for app, named the Heroku way
// (postgresql-misty-04211).
func newAddon(app string, p AddonProvider, plan, as string) *Addon {
	short := strings.TrimPrefix(p.Service(), "heroku-")
	return &Addon{ID: newID(), Name: fmt.Sprintf("%s-%s-%05d", short, nameAdjectives[rand.IntN(len(nameAdjectives))], rand.IntN(100000)),
		App: app, Service: p.Service(), Plan: plan, As: as, State: "provisioned", Created: time.Now().UTC()}
}

// ReviewAppFor returns the name of parent's review app of branch, ""
// when it has none.
func (e *Engine) ReviewAppFor(parent, branch string) (string, error) {
	ra, err := e.reviewOfBranch(parent, branch)
	if err != nil || ra == nil {
		return "", err
	}
	return ra.Name, nil
}
