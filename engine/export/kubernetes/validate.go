package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Decode reads a YAML stream back into API objects, strictly: a field
// the API types do not have, or a kind this file should not hold, is an
// error. The scheme is the API groups the export writes.
func Decode(data []byte) ([]runtime.Object, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, networkingv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	var objs []runtime.Object
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// Validate checks objects against the rules of the API server that the
// apimachinery module carries: object metadata (names as DNS subdomains,
// labels, annotations), container and port names as DNS labels, a
// Deployment's selector matching its pods, memory limits set. The rest
// of the API server's validation lives in k8s.io/kubernetes, which is not
// a library; a dry run against a cluster is the final word.
func Validate(objs []runtime.Object) error {
	var errs field.ErrorList
	podSpec := func(p *corev1.PodTemplateSpec, path *field.Path) {
		errs = append(errs, metavalidation.ValidateLabels(p.Labels, path.Child("metadata", "labels"))...)
		if len(p.Spec.Containers) == 0 {
			errs = append(errs, field.Required(path.Child("spec", "containers"), ""))
		}
		for i, c := range p.Spec.Containers {
			cp := path.Child("spec", "containers").Index(i)
			for _, msg := range validation.IsDNS1123Label(c.Name) {
				errs = append(errs, field.Invalid(cp.Child("name"), c.Name, msg))
			}
			if c.Image == "" {
				errs = append(errs, field.Required(cp.Child("image"), ""))
			}
			if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
				errs = append(errs, field.Required(cp.Child("resources", "limits", "memory"), ""))
			}
			for j, port := range c.Ports {
				for _, msg := range validation.IsValidPortName(port.Name) {
					errs = append(errs, field.Invalid(cp.Child("ports").Index(j).Child("name"), port.Name, msg))
				}
			}
		}
	}
	for i, o := range objs {
		path := field.NewPath(fmt.Sprintf("[%d]", i))
		m, ok := o.(metav1.Object)
		if !ok {
			return fmt.Errorf("object %d (%T) has no metadata", i+1, o)
		}
		om := metav1.ObjectMeta{Name: m.GetName(), Labels: m.GetLabels(), Annotations: m.GetAnnotations()}
		errs = append(errs, apivalidation.ValidateObjectMeta(&om, false, apivalidation.NameIsDNSSubdomain, path.Child("metadata"))...)
		switch o := o.(type) {
		case *appsv1.Deployment:
			sel, err := metav1.LabelSelectorAsSelector(o.Spec.Selector)
			if err != nil || sel.Empty() || !sel.Matches(labels.Set(o.Spec.Template.Labels)) {
				errs = append(errs, field.Invalid(path.Child("spec", "selector"), o.Spec.Selector, "must match the pod template's labels"))
			}
			podSpec(&o.Spec.Template, path.Child("spec", "template"))
		case *batchv1.Job:
			podSpec(&o.Spec.Template, path.Child("spec", "template"))
		case *batchv1.CronJob:
			if len(strings.Fields(o.Spec.Schedule)) != 5 {
				errs = append(errs, field.Invalid(path.Child("spec", "schedule"), o.Spec.Schedule, "must have five fields"))
			}
			podSpec(&o.Spec.JobTemplate.Spec.Template, path.Child("spec", "jobTemplate", "spec", "template"))
		case *corev1.Service:
			for _, msg := range validation.IsDNS1035Label(o.Name) {
				errs = append(errs, field.Invalid(path.Child("metadata", "name"), o.Name, msg))
			}
		case *networkingv1.Ingress:
			for j, r := range o.Spec.Rules {
				check := validation.IsDNS1123Subdomain
				if strings.HasPrefix(r.Host, "*.") {
					check = validation.IsWildcardDNS1123Subdomain
				}
				for _, msg := range check(r.Host) {
					errs = append(errs, field.Invalid(path.Child("spec", "rules").Index(j).Child("host"), r.Host, msg))
				}
			}
		case *corev1.Secret:
			for k := range o.StringData {
				for _, msg := range validation.IsConfigMapKey(k) {
					errs = append(errs, field.Invalid(path.Child("stringData").Key(k), "", msg))
				}
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(errs.ToAggregate().Error())
	}
	return nil
}
