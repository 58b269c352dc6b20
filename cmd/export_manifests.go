package cmd

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
	"hako/engine/export"
	"hako/engine/export/compose"
	"hako/engine/export/kubernetes"
	"hako/engine/export/nomad"
)

// exportModel reads what the manifests say of app: the release, its
// slug's process types and its config vars (those it ran with, not the
// app's current ones, so that exporting vN after a config:set gives vN),
// the formation's quantities, the add-ons whose vars the release has,
// the custom domains and the scheduler jobs.
func exportModel(cl *Client, app string, c *cli.Context) (*export.App, error) {
	rel, slug, err := fetchRelease(cl, app, c)
	if err != nil {
		return nil, err
	}
	m := &export.App{Release: export.Release{App: app, Version: rel.Version, Commit: rel.Commit,
		ProcessTypes: slug.ProcessTypes, CreatedAt: rel.CreatedAt}, MemoryMB: c.Int("memory")}
	if slug.Checksum != nil {
		m.Release.SlugSHA256 = trimChecksum(*slug.Checksum)
	}
	m.Image = c.String("image")
	if m.Image == "" && c.String("push") != "" {
		m.Image = fmt.Sprintf("%s:v%d", c.String("push"), rel.Version)
	}
	if m.Image == "" {
		m.Image = fmt.Sprintf("localhost/%s:v%d", app, rel.Version)
	}
	var formation []api.FormationView
	if err := cl.Do("GET", appPath(app, "/formation"), nil, &formation); err != nil {
		return nil, err
	}
	qty := map[string]int{}
	for _, f := range formation {
		qty[f.Type] = f.Quantity
	}
	for _, typ := range slices.Sorted(maps.Keys(slug.ProcessTypes)) {
		if typ == "release" {
			m.ReleaseCommand = slug.ProcessTypes[typ]
			continue
		}
		m.Processes = append(m.Processes, export.Process{Type: typ, Command: slug.ProcessTypes[typ], Quantity: qty[typ]})
	}
	if err := cl.Do("GET", appPath(app, fmt.Sprintf("/releases/v%d/config-vars", rel.Version)), nil, &m.Config); err != nil {
		return nil, err
	}
	// The add-ons attached to the app, its own and other apps', by their
	// attachments here: each add-on once, with every var it sets here.
	var attachments []api.AttachmentView
	if err := cl.Do("GET", appPath(app, "/addon-attachments"), nil, &attachments); err != nil {
		return nil, err
	}
	index := map[string]int{}
	for _, at := range attachments {
		service, _, _ := strings.Cut(at.Addon.Plan.Name, ":")
		kind := export.AddonKind(service)
		// An add-on attached since the release is none of its: its var
		// (which Compose would set) is not in the release's config.
		if kind == "" || len(at.ConfigVars) == 0 || !hasKey(m.Config, at.ConfigVars[0]) {
			continue
		}
		if i, ok := index[at.Addon.ID]; ok {
			m.Addons[i].Aliases = append(m.Addons[i].Aliases, at.ConfigVars[0])
			continue
		}
		a := export.Addon{Kind: kind, ConfigVar: at.ConfigVars[0]}
		if at.Addon.App.Name != app {
			a.Attachment = at.Name
		}
		index[at.Addon.ID] = len(m.Addons)
		m.Addons = append(m.Addons, a)
	}
	var domains []api.DomainView
	if err := cl.Do("GET", appPath(app, "/domains"), nil, &domains); err != nil {
		return nil, err
	}
	for _, d := range domains {
		if d.Kind == "custom" {
			m.Domains = append(m.Domains, d.Hostname)
		}
	}
	var jobs []api.SchedulerJobView
	if err := cl.Do("GET", appPath(app, "/scheduler-jobs"), nil, &jobs); err != nil {
		return nil, err
	}
	for _, j := range jobs {
		m.Jobs = append(m.Jobs, export.Job{Name: j.ID, Schedule: j.Schedule, Command: j.Command})
	}
	return m, nil
}

// exportManifests writes the compose, kubernetes or nomad files of a
// release into --out, each checked by decoding it back and validating it
// before it is written.
func exportManifests(env *Env, cl *Client, app, format string, c *cli.Context) error {
	m, err := exportModel(cl, app, c)
	if err != nil {
		return err
	}
	out := c.String("out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	files := map[string][]byte{}
	secret := map[string]bool{}
	switch format {
	case "compose":
		pw := make([]byte, 16)
		if _, err := rand.Read(pw); err != nil {
			return err
		}
		envName := app + ".env"
		f, envText, err := compose.Build(m, envName, hex.EncodeToString(pw))
		if err != nil {
			return engine.Errorf(engine.EINVALID, "Cannot write the Compose file: %v", err)
		}
		data, err := f.Marshal()
		if err != nil {
			return err
		}
		if _, err := compose.Validate(data); err != nil {
			return fmt.Errorf("the Compose file does not validate: %w", err)
		}
		files["compose.yaml"], files[envName], secret[envName] = data, []byte(envText), true
	case "kubernetes":
		objs, err := kubernetes.Objects(m)
		if err != nil {
			return engine.Errorf(engine.EINVALID, "Cannot write the Kubernetes objects: %v", err)
		}
		data, err := kubernetes.Marshal(objs)
		if err != nil {
			return err
		}
		back, err := kubernetes.Decode(data)
		if err == nil {
			err = kubernetes.Validate(back)
		}
		if err != nil {
			return engine.Errorf(engine.EINVALID, "The Kubernetes objects do not validate: %v", err)
		}
		name := app + ".kubernetes.yaml"
		files[name], secret[name] = data, true
	case "nomad":
		jobs, err := nomad.Jobs(m)
		if err != nil {
			return engine.Errorf(engine.EINVALID, "Cannot write the Nomad jobs: %v", err)
		}
		for _, j := range jobs {
			data, err := nomad.Marshal(j)
			if err != nil {
				return err
			}
			back, err := nomad.Decode(data)
			if err == nil {
				err = nomad.Validate(back)
			}
			if err != nil {
				return engine.Errorf(engine.EINVALID, "The Nomad job %s does not validate: %v", *j.ID, err)
			}
			name := *j.ID + ".nomad.json"
			files[name], secret[name] = data, true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		mode := os.FileMode(0o644)
		if secret[name] {
			mode = 0o600 // config vars are secrets
		}
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, files[name], mode); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		fmt.Fprintf(env.Stdout, "Wrote %s\n", p)
	}
	fmt.Fprintf(env.Stdout, "Exported %s v%d as %s, running %s\n", app, m.Release.Version, format, m.Image)
	return nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// trimChecksum is a checksum's hex, without Heroku's "SHA256:".
func trimChecksum(s string) string {
	if len(s) > 7 && s[:7] == "SHA256:" {
		return s[7:]
	}
	return s
}
