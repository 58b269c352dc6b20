package kubernetes

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"hako/engine/export"
)

func sampleApp() *export.App {
	return &export.App{
		Release: export.Release{App: "shop", Version: 7, SlugSHA256: strings.Repeat("ab", 32), CreatedAt: time.Unix(1700000000, 0),
			ProcessTypes: map[string]string{"web": "./bin/web", "worker_q": "./bin/worker", "release": "./bin/migrate"}},
		Image:          "registry.example/shop:v7",
		Processes:      []export.Process{{Type: "web", Command: "./bin/web", Quantity: 2}, {Type: "worker_q", Command: "./bin/worker", Quantity: 1}},
		ReleaseCommand: "./bin/migrate",
		Config:         map[string]string{"DATABASE_URL": "postgres://x", "GREETING": "it's \"quoted\"\nand two lines"},
		Domains:        []string{"shop.example.com", "*.shop.example.org"},
		Jobs:           []export.Job{{Schedule: "*/10 * * * *", Command: "./bin/report"}},
		MemoryMB:       512,
	}
}

// TestObjectsDecodeAndValidate writes the objects, decodes the YAML back
// strictly into the API types and validates them, then checks what each
// says.
func TestObjectsDecodeAndValidate(t *testing.T) {
	objs, err := Objects(sampleApp())
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(objs)
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
	var kinds []string
	for _, o := range back {
		switch o := o.(type) {
		case *corev1.Secret:
			kinds = append(kinds, "Secret")
			if o.StringData["GREETING"] != "it's \"quoted\"\nand two lines" {
				t.Errorf("secret GREETING = %q", o.StringData["GREETING"])
			}
		case *appsv1.Deployment:
			kinds = append(kinds, "Deployment/"+o.Name)
			pod := o.Spec.Template.Spec
			c := pod.Containers[0]
			if *pod.TerminationGracePeriodSeconds != 30 || c.Resources.Limits.Memory().String() != "512Mi" || c.Image != "registry.example/shop:v7" {
				t.Errorf("%s: grace %d, memory %s, image %s", o.Name, *pod.TerminationGracePeriodSeconds, c.Resources.Limits.Memory(), c.Image)
			}
			switch o.Name {
			case "shop-web":
				if *o.Spec.Replicas != 2 || c.ReadinessProbe == nil || c.ReadinessProbe.TCPSocket.Port.String() != "http" || c.Ports[0].ContainerPort != 5000 {
					t.Errorf("web: replicas %d, probe %+v, ports %+v", *o.Spec.Replicas, c.ReadinessProbe, c.Ports)
				}
			case "shop-worker-q":
				if *o.Spec.Replicas != 1 || c.ReadinessProbe != nil || len(c.Args) != 1 || c.Args[0] != "./bin/worker" {
					t.Errorf("worker: replicas %d, probe %+v, args %q", *o.Spec.Replicas, c.ReadinessProbe, c.Args)
				}
			}
		case *corev1.Service:
			kinds = append(kinds, "Service")
		case *networkingv1.Ingress:
			kinds = append(kinds, "Ingress")
			if len(o.Spec.Rules) != 2 || o.Spec.Rules[0].Host != "shop.example.com" {
				t.Errorf("ingress rules = %+v", o.Spec.Rules)
			}
		case *batchv1.Job:
			kinds = append(kinds, "Job")
			if o.Spec.Template.Spec.Containers[0].Args[0] != "./bin/migrate" || *o.Spec.BackoffLimit != 0 {
				t.Errorf("release job = %+v", o.Spec)
			}
		case *batchv1.CronJob:
			kinds = append(kinds, "CronJob")
			if o.Spec.Schedule != "*/10 * * * *" {
				t.Errorf("cron schedule = %q", o.Spec.Schedule)
			}
		}
	}
	want := "Secret Job Deployment/shop-web Service Ingress Deployment/shop-worker-q CronJob"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("objects = %s, want %s", got, want)
	}
}

// TestDecodeStrict: a field the API does not have, or a name the API
// refuses, is caught.
func TestDecodeStrict(t *testing.T) {
	bad := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicaz: 2\n"
	if _, err := Decode([]byte(bad)); err == nil || !strings.Contains(err.Error(), "replicaz") {
		t.Errorf("decode of an unknown field: %v", err)
	}
	a := sampleApp()
	a.Domains = []string{"not a host"}
	objs, _ := Objects(a)
	if err := Validate(objs); err == nil {
		t.Error("an Ingress host with spaces validated")
	}
}
