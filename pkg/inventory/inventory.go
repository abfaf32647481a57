// Package inventory manages the inventory: a SyncTarget and a Location of the same name per
// workload execution cluster, in an inventory management space.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// IDLabel carries a SyncTarget's identity; its Location selects it by that label.
const IDLabel = "id"

// ParseLabels reads key=value arguments, naming the first bad one.
func ParseLabels(args []string) (map[string]string, error) {
	labels := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("label %q must be key=value", a)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("label key %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("label value %q of %q: %s", v, k, strings.Join(errs, "; "))
		}
		if k == IDLabel {
			return nil, fmt.Errorf("label key %q is reserved: the SyncTarget gets %s=<name> by itself", IDLabel, IDLabel)
		}
		labels[k] = v
	}
	return labels, nil
}

// ValidateName checks a location name.
func ValidateName(name string) error {
	if name == "default" {
		return errors.New(`the name "default" is reserved; choose another location name`)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("location name %q: %s", name, strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(name); len(errs) > 0 {
		return fmt.Errorf("location name %q must also be a label value (it becomes %s=%s): %s", name, IDLabel, name, strings.Join(errs, "; "))
	}
	return nil
}

// Step reports one thing done, like kubectl's "created"/"unchanged" lines.
type Step func(format string, args ...any)

// EnsureLocation ensures the SyncTarget name (labelled id=name and with the given labels)
// and the Location name (the same labels, selecting id=name), and deletes a Location named
// default if there is one. Labels not given are left as they are.
func EnsureLocation(ctx context.Context, c client.Client, name string, labels map[string]string, step Step) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	stLabels := map[string]string{}
	maps.Copy(stLabels, labels)
	stLabels[IDLabel] = name
	st := &edgev2alpha1.SyncTarget{}
	if err := ensure(ctx, c, "synctarget", name, st, func() {
		st.Labels = mergeLabels(st.Labels, stLabels)
	}, step); err != nil {
		return err
	}
	loc := &edgev2alpha1.Location{}
	if err := ensure(ctx, c, "location", name, loc, func() {
		loc.Labels = mergeLabels(loc.Labels, labels)
		loc.Spec.Resource = edgev2alpha1.GroupVersionResource{Group: edgev2alpha1.GroupName, Version: edgev2alpha1.SchemeGroupVersion.Version, Resource: "synctargets"}
		loc.Spec.InstanceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{IDLabel: name}}
	}, step); err != nil {
		return err
	}
	def := &edgev2alpha1.Location{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if err := c.Delete(ctx, def); err == nil {
		step("location.%s \"default\" deleted", edgev2alpha1.GroupName)
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the default Location: %w", err)
	}
	return nil
}

// ensure creates or updates obj, named name, so that mutate's changes hold, and reports what
// it did as kubectl would.
func ensure(ctx context.Context, c client.Client, resource, name string, obj client.Object, mutate func(), step Step) error {
	obj.SetName(name)
	var result controllerutil.OperationResult
	// The mailbox controller annotates a new SyncTarget, and two users may ensure the same
	// location at once: a write that lost such a race is made again on what is there now.
	err := retry.OnError(retry.DefaultBackoff, func(err error) bool {
		return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
	}, func() error {
		var err error
		result, err = controllerutil.CreateOrUpdate(ctx, c, obj, func() error { mutate(); return nil })
		return err
	})
	if err != nil {
		return fmt.Errorf("ensuring %s %s: %w", resource, name, err)
	}
	said := map[controllerutil.OperationResult]string{
		controllerutil.OperationResultCreated: "created",
		controllerutil.OperationResultUpdated: "configured",
		controllerutil.OperationResultNone:    "unchanged",
	}[result]
	step("%s.%s %q %s", resource, edgev2alpha1.GroupName, name, said)
	return nil
}

func mergeLabels(have, want map[string]string) map[string]string {
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, want)
	return out
}

// RemoveLocation deletes the SyncTarget and the Location name; either being absent is fine.
func RemoveLocation(ctx context.Context, c client.Client, name string, step Step) error {
	for _, o := range []struct {
		resource string
		obj      client.Object
	}{
		{"synctarget", &edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: name}}},
		{"location", &edgev2alpha1.Location{ObjectMeta: metav1.ObjectMeta{Name: name}}},
	} {
		resource, obj := o.resource, o.obj
		switch err := c.Delete(ctx, obj); {
		case err == nil:
			step("%s.%s %q deleted", resource, edgev2alpha1.GroupName, name)
		case apierrors.IsNotFound(err):
			step("%s.%s %q was not there", resource, edgev2alpha1.GroupName, name)
		default:
			return fmt.Errorf("deleting %s %s: %w", resource, name, err)
		}
	}
	return nil
}
