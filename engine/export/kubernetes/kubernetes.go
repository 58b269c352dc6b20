// Package kubernetes writes a release as Kubernetes objects with the
// API's own Go types (k8s.io/api): a Deployment per process type, a
// Service and an Ingress for web, a Secret of the config vars, a Job for
// the release phase and CronJobs for the scheduler's jobs. k8s.io/api
// brings k8s.io/apimachinery (object metadata, quantities, the codecs
// that decode the file back in the tests): the price of writing objects a
// cluster accepts rather than YAML strings that look like them.
package kubernetes

import (
	"bytes"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"hako/engine/export"
)

// GracePeriod is how long a process has between SIGTERM and SIGKILL,
// Heroku's 30 seconds.
const GracePeriod = 30

// Objects builds app's objects, in the order a kubectl apply of the file
// creates them.
func Objects(app *export.App) ([]runtime.Object, error) {
	if err := app.Check(); err != nil {
		return nil, err
	}
	name := app.ProcessName("config")
	labels := func(component string) map[string]string {
		l := map[string]string{"app.kubernetes.io/name": app.ProcessName(""), "app.kubernetes.io/managed-by": "hako"}
		if component != "" {
			l["app.kubernetes.io/component"] = component
		}
		return l
	}
	meta := func(n, component string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: n, Labels: labels(component),
			Annotations: map[string]string{export.LabelRelease: "v" + strconv.Itoa(app.Release.Version), export.LabelSlugSHA256: app.Release.SlugSHA256}}
	}
	secret := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: meta(name, ""),
		Type: corev1.SecretTypeOpaque, StringData: app.Config}
	objs := []runtime.Object{secret}
	memory := resource.MustParse(strconv.Itoa(app.MemoryMB) + "Mi")
	grace := int64(GracePeriod)
	container := func(typ, command string, web bool) corev1.Container {
		c := corev1.Container{Name: export.DNSLabel(typ), Image: app.Image, Args: []string{command},
			EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: memory},
				Requests: corev1.ResourceList{corev1.ResourceMemory: memory}}}
		if web {
			c.Env = []corev1.EnvVar{{Name: "PORT", Value: strconv.Itoa(export.DefaultPort)}}
			c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: export.DefaultPort}}
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}},
				PeriodSeconds: 2}
		}
		return c
	}
	oneOff := func(typ, command string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels(typ)}, Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{container(typ, command, false)}}}
	}
	if app.ReleaseCommand != "" {
		zero := int32(0)
		objs = append(objs, &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
			ObjectMeta: meta(app.ProcessName(fmt.Sprintf("release-v%d", app.Release.Version)), "release"),
			Spec:       batchv1.JobSpec{BackoffLimit: &zero, Template: oneOff("release", app.ReleaseCommand)}})
	}
	for _, p := range app.Processes {
		n := int32(p.Quantity)
		objs = append(objs, &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: meta(app.ProcessName(p.Type), p.Type),
			Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: labels(p.Type)},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels(p.Type)}, Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{container(p.Type, p.Command, p.Web())}}}}})
		if !p.Web() {
			continue
		}
		svc := app.ProcessName("web")
		objs = append(objs, &corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta(svc, "web"),
			Spec: corev1.ServiceSpec{Selector: labels("web"), Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}})
		backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Name: "http"}}}
		ing := &networkingv1.Ingress{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"}, ObjectMeta: meta(svc, "web")}
		prefix := networkingv1.PathTypePrefix
		for _, d := range app.Domains {
			ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: d, IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: backend}}}}})
		}
		if len(ing.Spec.Rules) == 0 {
			ing.Spec.DefaultBackend = &backend
		}
		objs = append(objs, ing)
	}
	for i, j := range app.Jobs {
		objs = append(objs, &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
			ObjectMeta: meta(app.ProcessName(fmt.Sprintf("job-%d", i+1)), "scheduler"),
			Spec: batchv1.CronJobSpec{Schedule: j.Schedule, ConcurrencyPolicy: batchv1.ForbidConcurrent,
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: oneOff("scheduler", j.Command)}}}})
	}
	return objs, nil
}

// Marshal writes objects as one YAML stream, documents split by "---".
func Marshal(objs []runtime.Object) ([]byte, error) {
	var b bytes.Buffer
	for i, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("marshal %T: %w", o, err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}
