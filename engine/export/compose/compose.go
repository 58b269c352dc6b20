// Package compose writes a release as a Compose application (compose.yaml
// and an env file), for docker compose and podman-compose on one machine
// or a Swarm: one service per process type at its quantity, the add-ons
// as postgres and redis services, the release phase as a one-shot service
// the others wait for. The file is typed structs marshalled as YAML
// (sigs.k8s.io/yaml, the JSON-tag YAML writer the Kubernetes export uses
// too), never YAML written as strings.
package compose

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"hako/engine/export"
)

// File is the part of the Compose specification hako writes.
type File struct {
	Name     string              `json:"name"`
	Services map[string]*Service `json:"services"`
	Volumes  map[string]struct{} `json:"volumes,omitempty"`
}

// Service is a Compose service.
type Service struct {
	Image       string               `json:"image"`
	Command     []string             `json:"command,omitempty"`
	EnvFile     []string             `json:"env_file,omitempty"`
	Environment map[string]string    `json:"environment,omitempty"`
	Ports       []string             `json:"ports,omitempty"`
	DependsOn   map[string]Condition `json:"depends_on,omitempty"`
	Restart     string               `json:"restart,omitempty"`
	Deploy      *Deploy              `json:"deploy,omitempty"`
	Healthcheck *Healthcheck         `json:"healthcheck,omitempty"`
	Volumes     []string             `json:"volumes,omitempty"`
	StopGrace   string               `json:"stop_grace_period,omitempty"`
}

// Condition is a long-form depends_on entry.
type Condition struct {
	Condition string `json:"condition"`
}

// Deploy holds a service's replicas and memory.
type Deploy struct {
	Replicas  *int       `json:"replicas,omitempty"`
	Resources *Resources `json:"resources,omitempty"`
}

// Resources are a service's limits.
type Resources struct {
	Limits map[string]string `json:"limits,omitempty"`
}

// Healthcheck is a service's readiness test.
type Healthcheck struct {
	Test     []string `json:"test"`
	Interval string   `json:"interval,omitempty"`
	Retries  int      `json:"retries,omitempty"`
}

// Build returns the Compose file of app and its env file's text, the
// add-ons' URLs pointing at their services. password is the PostgreSQL
// password the file gives its database, kept in the env file only.
func Build(app *export.App, envFile, password string) (*File, string, error) {
	if err := app.Check(); err != nil {
		return nil, "", err
	}
	db := app.Release.App
	f := &File{Name: app.Release.App, Services: map[string]*Service{}}
	env := map[string]string{}
	for k, v := range app.Config {
		env[k] = v
	}
	waits := map[string]Condition{}
	for _, a := range app.Addons {
		// The app's own add-ons are named by their kind (a second one of
		// a kind by its var); one another app owns, by its attachment
		// here: a service of this file all the same, starting empty as the
		// others do, since another app's file cannot be reached from this
		// one's.
		name := a.Kind
		if a.Attachment != "" {
			name = export.DNSLabel(strings.ToLower(a.Attachment))
		}
		if _, ok := f.Services[name]; ok {
			name = strings.ToLower(strings.TrimSuffix(a.ConfigVar, "_URL"))
		}
		if _, ok := f.Services[name]; ok {
			return nil, "", fmt.Errorf("two add-ons would be the service %s", name)
		}
		env[a.ConfigVar] = export.AddonURL(a, name, db, password)
		for _, v := range a.Aliases {
			env[v] = env[a.ConfigVar]
		}
		s := &Service{Image: export.AddonImages[a.Kind], Restart: "unless-stopped"}
		switch a.Kind {
		case "postgres":
			s.Environment = map[string]string{"POSTGRES_USER": db, "POSTGRES_DB": db, "POSTGRES_PASSWORD": password}
			s.Volumes = []string{name + "-data:/var/lib/postgresql/data"}
			s.Healthcheck = &Healthcheck{Test: []string{"CMD", "pg_isready", "-U", db}, Interval: "2s", Retries: 30}
		case "redis":
			s.Volumes = []string{name + "-data:/data"}
			s.Healthcheck = &Healthcheck{Test: []string{"CMD", "redis-cli", "ping"}, Interval: "2s", Retries: 30}
		default:
			continue
		}
		if f.Volumes == nil {
			f.Volumes = map[string]struct{}{}
		}
		f.Volumes[name+"-data"] = struct{}{}
		f.Services[name] = s
		waits[name] = Condition{Condition: "service_healthy"}
	}
	memory := map[string]string{"memory": strconv.Itoa(app.MemoryMB) + "M"}
	if app.ReleaseCommand != "" {
		f.Services["release"] = &Service{Image: app.Image, Command: []string{app.ReleaseCommand}, EnvFile: []string{envFile},
			Restart: "no", DependsOn: clone(waits)}
		waits["release"] = Condition{Condition: "service_completed_successfully"}
	}
	for _, p := range app.Processes {
		if _, taken := f.Services[p.Type]; taken {
			return nil, "", fmt.Errorf("process type %s has the name of an add-on's service", p.Type)
		}
		n := p.Quantity
		s := &Service{Image: app.Image, Command: []string{p.Command}, EnvFile: []string{envFile}, Restart: "unless-stopped",
			DependsOn: clone(waits), StopGrace: "30s",
			Deploy: &Deploy{Replicas: &n, Resources: &Resources{Limits: memory}}}
		if p.Web() {
			s.Environment = map[string]string{"PORT": strconv.Itoa(export.DefaultPort)}
			s.Ports = []string{strconv.Itoa(export.DefaultPort)}
		}
		f.Services[p.Type] = s
	}
	return f, EnvFile(env), nil
}

func clone(m map[string]Condition) map[string]Condition {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]Condition, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Marshal is the file as YAML.
func (f *File) Marshal() ([]byte, error) {
	return yaml.Marshal(f)
}

// EnvFile writes config vars as an env file, KEY=value lines sorted by
// name: single-quoted (taken literally by Compose) unless the value holds
// a quote or a newline, then double-quoted with \\, \" and \n escaped.
func EnvFile(env map[string]string) string {
	var b strings.Builder
	a := &export.App{Config: env}
	for _, k := range a.SortedConfig() {
		v := env[k]
		if !strings.ContainsAny(v, "'\n") {
			fmt.Fprintf(&b, "%s='%s'\n", k, v)
			continue
		}
		v = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
		fmt.Fprintf(&b, "%s=\"%s\"\n", k, v)
	}
	return b.String()
}

// Validate checks a compose file as the Compose specification would: it
// decodes strictly into the types (an unknown key is an error), every
// service has an image, depends_on names services of the file with a
// condition the specification knows, named volumes are declared,
// replicas are not negative.
func Validate(data []byte) (*File, error) {
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, err
	}
	var errs []error
	if len(f.Services) == 0 {
		errs = append(errs, fmt.Errorf("no services"))
	}
	for name, s := range f.Services {
		if s.Image == "" {
			errs = append(errs, fmt.Errorf("service %s has no image", name))
		}
		for dep, c := range s.DependsOn {
			if _, ok := f.Services[dep]; !ok {
				errs = append(errs, fmt.Errorf("service %s depends on %s, which is not a service", name, dep))
			}
			switch c.Condition {
			case "service_started", "service_healthy", "service_completed_successfully":
			default:
				errs = append(errs, fmt.Errorf("service %s: condition %q", name, c.Condition))
			}
			if c.Condition == "service_healthy" && f.Services[dep] != nil && f.Services[dep].Healthcheck == nil {
				errs = append(errs, fmt.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep))
			}
		}
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			if _, declared := f.Volumes[src]; ok && !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") && !declared {
				errs = append(errs, fmt.Errorf("service %s mounts undeclared volume %s", name, src))
			}
		}
		if s.Deploy != nil && s.Deploy.Replicas != nil && *s.Deploy.Replicas < 0 {
			errs = append(errs, fmt.Errorf("service %s has %d replicas", name, *s.Deploy.Replicas))
		}
	}
	return &f, errors.Join(errs...)
}
