package nomad

import (
	"strings"
	"testing"
	"time"

	"hako/engine/export"
)

func sampleApp() *export.App {
	return &export.App{
		Release:        export.Release{App: "shop", Version: 7, SlugSHA256: strings.Repeat("ab", 32), CreatedAt: time.Unix(1700000000, 0)},
		Image:          "registry.example/shop:v7",
		Processes:      []export.Process{{Type: "web", Command: "./bin/web", Quantity: 2}, {Type: "worker", Command: "./bin/worker", Quantity: 0}},
		ReleaseCommand: "./bin/migrate",
		Config:         map[string]string{"GREETING": "hi\nthere"},
		Jobs:           []export.Job{{Schedule: "0 3 * * *", Command: "./bin/report"}},
		MemoryMB:       512,
	}
}

// TestJobsDecodeAndValidate writes each job, decodes it strictly into the
// API types, validates it, and checks groups, counts, checks and memory.
func TestJobsDecodeAndValidate(t *testing.T) {
	jobs, err := Jobs(sampleApp())
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 {
		t.Fatalf("%d jobs, want the service, the release's and the scheduler's", len(jobs))
	}
	for _, j := range jobs {
		data, err := Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(data)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, data)
		}
		if err := Validate(back); err != nil {
			t.Fatalf("validate: %v\n%s", err, data)
		}
		switch *back.ID {
		case "shop":
			if *back.Type != "service" || len(back.TaskGroups) != 2 {
				t.Fatalf("service job: %s with %d groups", *back.Type, len(back.TaskGroups))
			}
			web, worker := back.TaskGroups[0], back.TaskGroups[1]
			if *web.Name != "shop-web" || *web.Count != 2 || len(web.Services) != 1 || web.Services[0].Checks[0].Type != "tcp" {
				t.Errorf("web group = %s x%d, services %+v", *web.Name, *web.Count, web.Services)
			}
			if *worker.Count != 0 || len(worker.Services) != 0 {
				t.Errorf("worker group x%d, %d services", *worker.Count, len(worker.Services))
			}
			task := web.Tasks[0]
			if task.Driver != "docker" || task.Config["image"] != "registry.example/shop:v7" || *task.Resources.MemoryMB != 512 ||
				task.Env["PORT"] != "5000" || task.Env["GREETING"] != "hi\nthere" || *task.KillTimeout != 30*time.Second {
				t.Errorf("web task = %+v", task)
			}
		case "shop-release-v7":
			if *back.Type != "batch" || *back.TaskGroups[0].RestartPolicy.Attempts != 0 {
				t.Errorf("release job = %s", data)
			}
		case "shop-job-1":
			if back.Periodic == nil || *back.Periodic.Spec != "0 3 * * *" {
				t.Errorf("scheduler job = %s", data)
			}
		default:
			t.Errorf("unexpected job %s", *back.ID)
		}
	}
}

// TestDecodeStrictNomad: a misspelt field is refused, and a service on a
// port its group does not declare fails validation.
func TestDecodeStrictNomad(t *testing.T) {
	if _, err := Decode([]byte(`{"Job": {"ID": "x", "TaskGroupz": []}}`)); err == nil {
		t.Error("a misspelt field decoded")
	}
	jobs, _ := Jobs(sampleApp())
	jobs[0].TaskGroups[0].Services[0].PortLabel = "nope"
	if err := Validate(jobs[0]); err == nil || !strings.Contains(err.Error(), "undeclared port") {
		t.Errorf("validate = %v", err)
	}
}
