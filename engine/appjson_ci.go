package engine

import "strings"

// AppTest is app.json's environments.test, as Heroku CI reads it: what a
// test run (`hako ci`) sets up besides the app's build. The rest of
// app.json (env, addons, formation) is the deployed app's and does not
// apply to a test run.
type AppTest struct {
	// Env are the test run's config vars (values or generated secrets).
	Env map[string]AppEnv
	// Addons are provisioned fresh for the run and destroyed with it.
	Addons []AppAddon
	// Buildpacks, when set, build the test run instead of the app's.
	Buildpacks []string
	// TestSetup runs once per test dyno before Test; Test runs the suite.
	// With no Test, the buildpacks' bin/test scripts run.
	TestSetup, Test string
	// Nodes is formation.test.quantity: how many test dynos run the
	// suite in parallel, each told its CI_NODE_INDEX (1 when unset).
	Nodes int
}

// MaxTestNodes caps a test run's parallel dynos.
const MaxTestNodes = 32

// test reads environments.test; other environments are kept and ignored.
func (p *ajParser) test(v any) *AppTest {
	envs := p.object("environments", v)
	if envs == nil {
		return nil
	}
	m := p.object("environments.test", envs["test"])
	if m == nil {
		return nil
	}
	t := &AppTest{Nodes: 1}
	sub := &ajParser{}
	t.Env = sub.env(m["env"])
	t.Addons = sub.addons(m["addons"])
	t.Buildpacks = sub.buildpacks(m["buildpacks"])
	if s := sub.object("scripts", m["scripts"]); s != nil {
		t.TestSetup = sub.str("scripts.test-setup", s["test-setup"])
		t.Test = sub.str("scripts.test", s["test"])
	}
	if f := sub.object("formation", m["formation"]); f != nil {
		for k := range f {
			if k != "test" {
				sub.fail("formation."+k, `left out: a test run's only process type is "test"`)
			}
		}
		if q := sub.object("formation.test", f["test"]); q != nil {
			if x, ok := q["quantity"]; ok {
				t.Nodes = sub.number("formation.test.quantity", x, 1, MaxTestNodes)
			}
		}
	}
	if sub.err != nil && p.err == nil {
		// The same words, at their place under environments.test.
		msg := strings.TrimPrefix(ErrorMessage(sub.err), "app.json: ")
		p.err = Errorf(EINVALID, "app.json: environments.test.%s", msg)
	}
	return t
}
