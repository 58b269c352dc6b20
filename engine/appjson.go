package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// AppJSON is what an app declares about itself in app.json, Heroku's
// schema with Dokku's extensions (healthchecks, cron, scripts.dokku). The
// file is kept whole with the release (Raw); unknown keys are kept there
// and ignored.
type AppJSON struct {
	Env          map[string]AppEnv
	Addons       []AppAddon
	Formation    map[string]AppFormation
	Buildpacks   []string
	Scripts      AppScripts
	Healthchecks map[string][]Healthcheck
	Cron         []CronSpec
	// Test is environments.test, how Heroku CI (`hako ci`) runs the
	// app's tests; nil when the file has none.
	Test *AppTest
	// Raw is the file as pushed, compacted.
	Raw json.RawMessage
}

// AppEnv is one config var the app declares.
type AppEnv struct {
	Value       string
	HasValue    bool
	Description string
	Required    bool
	// Generator "secret" asks for a random 64-hex value.
	Generator string
}

// AppAddon is an add-on the app needs: "heroku-postgresql[:plan]" with an
// optional attachment name.
type AppAddon struct {
	Plan string
	As   string
	// Fork, from {"options": {"fork": "PARENT"}}, gives a review app a
	// copy of its parent's database rather than an empty one.
	Fork string
}

// AppFormation is a process type's declared size.
type AppFormation struct {
	Quantity int
	Size     string
}

// AppScripts are the commands app.json runs around deploys.
type AppScripts struct {
	// Postdeploy runs once, after the app's first successful deploy.
	Postdeploy string
	// PrPredestroy runs before a review app is destroyed.
	PrPredestroy string
	// DokkuPredeploy and DokkuPostdeploy run around each deploy's switch.
	DokkuPredeploy  string
	DokkuPostdeploy string
}

// Healthcheck kinds, as Dokku names them.
const (
	CheckStartup  = "startup"
	CheckLiveness = "liveness"
)

// Healthcheck is one of Dokku's checks of a process type's dynos: an HTTP
// GET of Path on the dyno's port that must answer 2xx (and hold Content,
// when set) within Timeout, tried Attempts times Wait apart.
type Healthcheck struct {
	Type         string
	Name         string
	Path         string
	Content      string
	Attempts     int
	Timeout      time.Duration
	Wait         time.Duration
	InitialDelay time.Duration
}

// CronSpec is a job the app declares for the scheduler.
type CronSpec struct {
	Command  string
	Schedule string
}

// MaxAppJSON caps app.json: far above a real one.
const MaxAppJSON = 256 << 10

// ParseAppJSON reads app.json's content. A malformed file gives an
// EINVALID error with the line and column of the JSON error; a value of
// the wrong type one naming its path (formation.web.quantity must be a
// number).
func ParseAppJSON(data []byte) (*AppJSON, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(data, dec, err)
	}
	rest := dec.InputOffset()
	if trimmed := bytes.TrimLeft(data[rest:], " \t\r\n"); len(trimmed) > 0 {
		line, col := lineCol(data, int64(len(data)-len(trimmed)))
		return nil, Errorf(EINVALID, "app.json: unexpected data after the top-level object at line %d, column %d", line, col)
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, Errorf(EINVALID, "app.json: the file must hold a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, Errorf(EINVALID, "app.json: %v", err)
	}
	a := &AppJSON{Raw: buf.Bytes()}
	p := &ajParser{}
	a.Env = p.env(top["env"])
	a.Addons = p.addons(top["addons"])
	a.Formation = p.formation(top["formation"])
	a.Buildpacks = p.buildpacks(top["buildpacks"])
	a.Scripts = p.scripts(top["scripts"])
	a.Healthchecks = p.healthchecks(top["healthchecks"])
	a.Cron = p.cron(top["cron"])
	a.Test = p.test(top["environments"])
	if p.err != nil {
		return nil, p.err
	}
	return a, nil
}

// jsonError words a decoding error with its line and column.
func jsonError(data []byte, dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	off := dec.InputOffset()
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // the offending byte's
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(data))
		if len(bytes.TrimSpace(data)) == 0 {
			return Errorf(EINVALID, "app.json: the file is empty; it must hold a JSON object")
		}
		line, col := lineCol(data, off)
		return Errorf(EINVALID, "app.json: unexpected end of the file at line %d, column %d", line, col)
	}
	line, col := lineCol(data, off)
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return Errorf(EINVALID, "app.json: %s at line %d, column %d", msg, line, col)
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// ajParser keeps the first error found while reading app.json's values.
type ajParser struct{ err error }

func (p *ajParser) fail(path, want string) {
	if p.err == nil {
		p.err = Errorf(EINVALID, "app.json: %s must be %s", path, want)
	}
}

func (p *ajParser) object(path string, v any) map[string]any {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.fail(path, "an object")
	}
	return m
}

func (p *ajParser) array(path string, v any) []any {
	if v == nil {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		p.fail(path, "an array")
	}
	return a
}

func (p *ajParser) str(path string, v any) string {
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.fail(path, "a string")
	}
	return s
}

func (p *ajParser) boolean(path string, v any) bool {
	if v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		p.fail(path, "true or false")
	}
	return b
}

// number reads a whole number in [lo, hi].
func (p *ajParser) number(path string, v any, lo, hi int64) int {
	n, ok := v.(json.Number)
	if !ok {
		p.fail(path, "a number")
		return 0
	}
	i, err := n.Int64()
	if err != nil || i < lo || i > hi {
		p.fail(path, fmt.Sprintf("a whole number from %d to %d", lo, hi))
		return 0
	}
	return int(i)
}

// keys returns m's keys sorted, so that the first error is the same on
// every read.
func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (p *ajParser) env(v any) map[string]AppEnv {
	m := p.object("env", v)
	if len(m) == 0 {
		return nil
	}
	out := map[string]AppEnv{}
	for _, k := range keys(m) {
		path := "env." + k
		if err := ValidateConfigKey(k); err != nil {
			if p.err == nil {
				p.err = Errorf(EINVALID, "app.json: %s: %s", path, ErrorMessage(err))
			}
			continue
		}
		var e AppEnv
		switch x := m[k].(type) {
		case string:
			e = AppEnv{Value: x, HasValue: true}
		case map[string]any:
			if val, ok := x["value"]; ok && val != nil {
				e.Value, e.HasValue = p.str(path+".value", val), true
			}
			e.Description = p.str(path+".description", x["description"])
			e.Required = p.boolean(path+".required", x["required"])
			e.Generator = p.str(path+".generator", x["generator"])
			if e.Generator != "" && e.Generator != "secret" {
				p.fail(path+".generator", `"secret" (the only generator)`)
			}
		default:
			p.fail(path, "a string or an object")
		}
		out[k] = e
	}
	return out
}

func (p *ajParser) addons(v any) []AppAddon {
	var out []AppAddon
	for i, x := range p.array("addons", v) {
		path := fmt.Sprintf("addons[%d]", i)
		var a AppAddon
		switch y := x.(type) {
		case string:
			a.Plan = y
		case map[string]any:
			a.Plan = p.str(path+".plan", y["plan"])
			a.As = p.str(path+".as", y["as"])
			if o := p.object(path+".options", y["options"]); o != nil {
				a.Fork = p.str(path+".options.fork", o["fork"])
			}
		default:
			p.fail(path, "a string or an object")
		}
		if a.Plan == "" {
			p.fail(path+".plan", "a service such as heroku-postgresql")
		}
		out = append(out, a)
	}
	return out
}

func (p *ajParser) formation(v any) map[string]AppFormation {
	m := p.object("formation", v)
	if len(m) == 0 {
		return nil
	}
	out := map[string]AppFormation{}
	for _, t := range keys(m) {
		path := "formation." + t
		f := p.object(path, m[t])
		if f == nil {
			if p.err == nil {
				p.fail(path, "an object")
			}
			continue
		}
		q := 1
		if x, ok := f["quantity"]; ok {
			q = p.number(path+".quantity", x, 0, MaxQuantity)
		}
		out[t] = AppFormation{Quantity: q, Size: p.str(path+".size", f["size"])}
	}
	return out
}

func (p *ajParser) buildpacks(v any) []string {
	var out []string
	for i, x := range p.array("buildpacks", v) {
		path := fmt.Sprintf("buildpacks[%d]", i)
		m := p.object(path, x)
		url := p.str(path+".url", m["url"])
		if m != nil && url == "" {
			p.fail(path+".url", "a buildpack such as heroku/nodejs")
		}
		out = append(out, url)
	}
	return out
}

func (p *ajParser) scripts(v any) AppScripts {
	m := p.object("scripts", v)
	var s AppScripts
	if m == nil {
		return s
	}
	s.Postdeploy = p.str("scripts.postdeploy", m["postdeploy"])
	s.PrPredestroy = p.str("scripts.pr-predestroy", m["pr-predestroy"])
	d := p.object("scripts.dokku", m["dokku"])
	s.DokkuPredeploy = p.str("scripts.dokku.predeploy", d["predeploy"])
	s.DokkuPostdeploy = p.str("scripts.dokku.postdeploy", d["postdeploy"])
	return s
}

func (p *ajParser) healthchecks(v any) map[string][]Healthcheck {
	m := p.object("healthchecks", v)
	if len(m) == 0 {
		return nil
	}
	out := map[string][]Healthcheck{}
	for _, t := range keys(m) {
		for i, x := range p.array("healthchecks."+t, m[t]) {
			path := fmt.Sprintf("healthchecks.%s[%d]", t, i)
			c := p.object(path, x)
			if c == nil {
				p.fail(path, "an object")
				continue
			}
			h := Healthcheck{
				Type: p.str(path+".type", c["type"]), Name: p.str(path+".name", c["name"]),
				Path: p.str(path+".path", c["path"]), Content: p.str(path+".content", c["content"]),
				Attempts: 3, Timeout: 5 * time.Second, Wait: 5 * time.Second,
			}
			if h.Type == "" {
				h.Type = CheckStartup
			}
			if h.Type != CheckStartup && h.Type != CheckLiveness && h.Type != "readiness" {
				p.fail(path+".type", `"startup", "liveness" or "readiness"`)
			}
			if h.Name == "" {
				h.Name = fmt.Sprintf("check-%d", i+1)
			}
			if _, ok := c["command"]; ok {
				p.fail(path+".command", "left out: hako checks a path over HTTP (use path)")
			}
			if h.Path == "" {
				h.Path = "/"
			}
			if !strings.HasPrefix(h.Path, "/") {
				p.fail(path+".path", `a path starting with "/"`)
			}
			seconds := func(key string, d *time.Duration, lo int64) {
				if x, ok := c[key]; ok {
					*d = time.Duration(p.number(path+"."+key, x, lo, 3600)) * time.Second
				}
			}
			if x, ok := c["attempts"]; ok {
				h.Attempts = p.number(path+".attempts", x, 1, 100)
			}
			seconds("timeout", &h.Timeout, 1)
			seconds("wait", &h.Wait, 0)
			seconds("initialDelay", &h.InitialDelay, 0)
			out[t] = append(out[t], h)
		}
	}
	return out
}

func (p *ajParser) cron(v any) []CronSpec {
	var out []CronSpec
	for i, x := range p.array("cron", v) {
		path := fmt.Sprintf("cron[%d]", i)
		m := p.object(path, x)
		if m == nil {
			p.fail(path, "an object")
			continue
		}
		c := CronSpec{Command: p.str(path+".command", m["command"]), Schedule: p.str(path+".schedule", m["schedule"])}
		if c.Command == "" {
			p.fail(path+".command", "a command")
		}
		if c.Schedule == "" {
			p.fail(path+".schedule", `a schedule such as "@daily"`)
		}
		out = append(out, c)
	}
	return out
}

// Checks returns the checks of one kind for a process type.
func (a *AppJSON) Checks(ptype, kind string) []Healthcheck {
	if a == nil {
		return nil
	}
	var out []Healthcheck
	for _, h := range a.Healthchecks[ptype] {
		if h.Type == kind {
			out = append(out, h)
		}
	}
	return out
}
