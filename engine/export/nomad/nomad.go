// Package nomad writes a release as Nomad jobs with the types of
// github.com/hashicorp/nomad/api (the API module alone: the main Nomad
// module is not open source): a service job with a group per process type
// on the Docker driver, a batch job for the release phase, and a periodic
// batch job per scheduler job. The files are the JSON that
// `nomad job run -json` and the jobs API take.
package nomad

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"hako/engine/export"
)

// Jobs builds app's jobs: the service job first, then the release's,
// then the scheduler's.
func Jobs(app *export.App) ([]*api.Job, error) {
	if err := app.Check(); err != nil {
		return nil, err
	}
	meta := map[string]string{export.LabelRelease: "v" + strconv.Itoa(app.Release.Version), export.LabelSlugSHA256: app.Release.SlugSHA256}
	task := func(name, command string) *api.Task {
		t := api.NewTask(name, "docker")
		t.Config = map[string]any{"image": app.Image, "args": []string{command}}
		t.Env = map[string]string{}
		for k, v := range app.Config {
			t.Env[k] = v
		}
		mem := app.MemoryMB
		t.Resources = &api.Resources{MemoryMB: &mem}
		kill := 30 * time.Second
		t.KillTimeout = &kill
		return t
	}
	svc := api.NewServiceJob(app.ProcessName(""), app.Release.App, "", 50)
	svc.Meta = meta
	for _, p := range app.Processes {
		g := api.NewTaskGroup(app.ProcessName(p.Type), p.Quantity)
		t := task(export.DNSLabel(p.Type), p.Command)
		if p.Web() {
			port := strconv.Itoa(export.DefaultPort)
			t.Config["ports"] = []string{"http"}
			t.Env["PORT"] = port
			g.Networks = []*api.NetworkResource{{DynamicPorts: []api.Port{{Label: "http", To: export.DefaultPort}}}}
			g.Services = []*api.Service{{Name: app.ProcessName("web"), PortLabel: "http", Provider: "nomad",
				Checks: []api.ServiceCheck{{Name: "http", Type: "tcp", PortLabel: "http", Interval: 5 * time.Second, Timeout: 2 * time.Second}}}}
		}
		g.AddTask(t)
		svc.AddTaskGroup(g)
	}
	jobs := []*api.Job{svc}
	if app.ReleaseCommand != "" {
		j := api.NewBatchJob(app.ProcessName(fmt.Sprintf("release-v%d", app.Release.Version)), app.Release.App+" release", "", 60)
		j.Meta = meta
		g := api.NewTaskGroup("release", 1)
		g.RestartPolicy = &api.RestartPolicy{Attempts: new(0), Mode: new("fail")}
		g.ReschedulePolicy = &api.ReschedulePolicy{Attempts: new(0), Unlimited: new(false)}
		g.AddTask(task("release", app.ReleaseCommand))
		j.AddTaskGroup(g)
		jobs = append(jobs, j)
	}
	for i, sj := range app.Jobs {
		j := api.NewBatchJob(app.ProcessName(fmt.Sprintf("job-%d", i+1)), app.Release.App+" scheduler job", "", 50)
		j.Meta = meta
		j.Periodic = &api.PeriodicConfig{Spec: new(sj.Schedule), SpecType: new(api.PeriodicSpecCron), ProhibitOverlap: new(true)}
		g := api.NewTaskGroup("job", 1)
		g.AddTask(task("job", sj.Command))
		j.AddTaskGroup(g)
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// Marshal is a job as the jobs API's request: {"Job": ...}.
func Marshal(j *api.Job) ([]byte, error) {
	return json.MarshalIndent(struct{ Job *api.Job }{j}, "", "  ")
}

// Decode reads a job file back strictly: a field the API types do not
// have is an error.
func Decode(data []byte) (*api.Job, error) {
	var req struct{ Job *api.Job }
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, err
	}
	if req.Job == nil {
		return nil, errors.New("no Job")
	}
	return req.Job, nil
}

// Validate canonicalizes a job as the Nomad client does before it sends
// one, then checks what the server would refuse first: an id and type,
// groups with unique names, non-negative counts, tasks with a driver and
// an image, services on ports their group declares, cron specs with five
// fields. The full validation is the server's (nomad job validate).
func Validate(j *api.Job) error {
	j.Canonicalize()
	var errs []error
	if *j.ID == "" || strings.ContainsAny(*j.ID, " \x00") {
		errs = append(errs, fmt.Errorf("job id %q", *j.ID))
	}
	switch *j.Type {
	case "service", "batch":
	default:
		errs = append(errs, fmt.Errorf("job type %q", *j.Type))
	}
	if j.Periodic != nil && len(strings.Fields(*j.Periodic.Spec)) != 5 {
		errs = append(errs, fmt.Errorf("periodic spec %q has not five fields", *j.Periodic.Spec))
	}
	seen := map[string]bool{}
	for _, g := range j.TaskGroups {
		name := *g.Name
		if seen[name] {
			errs = append(errs, fmt.Errorf("group %s twice", name))
		}
		seen[name] = true
		if *g.Count < 0 {
			errs = append(errs, fmt.Errorf("group %s: count %d", name, *g.Count))
		}
		ports := map[string]bool{}
		for _, n := range g.Networks {
			for _, p := range n.DynamicPorts {
				ports[p.Label] = true
			}
		}
		for _, s := range g.Services {
			if !ports[s.PortLabel] {
				errs = append(errs, fmt.Errorf("group %s: service %s on undeclared port %q", name, s.Name, s.PortLabel))
			}
			for _, c := range s.Checks {
				if c.Interval <= 0 || c.Timeout <= 0 {
					errs = append(errs, fmt.Errorf("group %s: check %s without interval or timeout", name, c.Name))
				}
			}
		}
		if len(g.Tasks) == 0 {
			errs = append(errs, fmt.Errorf("group %s has no task", name))
		}
		for _, t := range g.Tasks {
			if t.Driver != "docker" || t.Config["image"] == "" || t.Config["image"] == nil {
				errs = append(errs, fmt.Errorf("group %s: task %s has no docker image", name, t.Name))
			}
			if t.Resources == nil || t.Resources.MemoryMB == nil || *t.Resources.MemoryMB < 10 {
				errs = append(errs, fmt.Errorf("group %s: task %s has under 10 MB of memory", name, t.Name))
			}
		}
	}
	return errors.Join(errs...)
}
