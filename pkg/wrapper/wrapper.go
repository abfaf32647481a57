package wrapper

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

const (
	// AnnotationSource names, on a wrapper, the workload object it carries (ObjectRef.String).
	AnnotationSource = "edge.kubestellar.io/source"
	// LabelSourceSpace is the ID of the space the wrapped object comes from.
	LabelSourceSpace = "edge.kubestellar.io/source-space"
	// SyncerConfigName is the name of the SyncerConfig in every mailbox.
	SyncerConfigName = "the-one"
	// AnnotationExecutingCount says, on a workload object, how many destinations it has.
	AnnotationExecutingCount = "kubestellar.io/executing-count"
	// ConditionSynced says, on a wrapper, whether the syncer has the object in its cluster as
	// wrapped.
	ConditionSynced = "Synced"
	// ReasonWaitingForNamespace is the Synced reason while the object's namespace has not
	// reached the cluster yet: a wait, not a failure.
	ReasonWaitingForNamespace = "WaitingForNamespace"
	// ReasonReportedStateTooLarge is the Synced reason when the object is in the cluster as
	// wrapped but its status is left out of the wrapper, which it would take past MaxSize.
	ReasonReportedStateTooLarge = "ReportedStateTooLarge"
)

// droppedAnnotations are not carried to the workload execution clusters.
var droppedAnnotations = []string{
	AnnotationExecutingCount,
	"kubectl.kubernetes.io/last-applied-configuration",
	"deployment.kubernetes.io/revision",
}

// Strip returns a copy of obj without what its own server owns (uid, resourceVersion,
// managedFields, ownerReferences, generation, timestamps, finalizers, status) and without
// values that server allocated (a Service's cluster IPs and node ports).
func Strip(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	meta := map[string]any{"name": obj.GetName()}
	if ns := obj.GetNamespace(); ns != "" {
		meta["namespace"] = ns
	}
	if l := obj.GetLabels(); len(l) > 0 {
		meta["labels"] = toAnyMap(l)
	}
	if a := obj.GetAnnotations(); len(a) > 0 {
		for _, k := range droppedAnnotations {
			delete(a, k)
		}
		if len(a) > 0 {
			meta["annotations"] = toAnyMap(a)
		}
	}
	out.Object["metadata"] = meta
	delete(out.Object, "status")
	switch obj.GroupVersionKind().GroupKind().String() {
	case "Namespace":
		delete(out.Object, "spec")
	case "Service":
		if ip, _, _ := unstructured.NestedString(out.Object, "spec", "clusterIP"); ip != "None" {
			unstructured.RemoveNestedField(out.Object, "spec", "clusterIP")
			unstructured.RemoveNestedField(out.Object, "spec", "clusterIPs")
		}
		if ports, ok, _ := unstructured.NestedSlice(out.Object, "spec", "ports"); ok {
			for _, p := range ports {
				if m, ok := p.(map[string]any); ok {
					delete(m, "nodePort")
				}
			}
			_ = unstructured.SetNestedSlice(out.Object, ports, "spec", "ports")
		}
		unstructured.RemoveNestedField(out.Object, "spec", "healthCheckNodePort")
	}
	return out
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var invalidNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// Name is the name, in a mailbox, of the wrapper of the object ref: readable, a valid
// DNS subdomain, and unique per object thanks to a hash of the full reference.
func Name(ref ObjectRef, kind string) string {
	sum := sha256.Sum256([]byte(ref.String()))
	readable := strings.ToLower(kind)
	if ref.Namespace != "" {
		readable += "-" + ref.Namespace
	}
	readable = invalidNameChars.ReplaceAllString(strings.ToLower(readable+"-"+ref.Name), "-")
	readable = strings.Trim(readable, "-")
	if len(readable) > 200 {
		readable = strings.TrimRight(readable[:200], "-")
	}
	hash := hex.EncodeToString(sum[:])[:10]
	if readable == "" {
		// Nothing readable is left (a kind and name of other characters): a name may not
		// start with "-".
		return hash
	}
	return readable + "-" + hash
}

// New makes the wrapper of obj (already stripped and customized) for one destination.
func New(ref ObjectRef, obj *unstructured.Unstructured, mailbox string, dest edgev2alpha1.SinglePlacement) (*edgev2alpha1.WrappedObject, error) {
	raw, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", ref, err)
	}
	return &edgev2alpha1.WrappedObject{
		TypeMeta: metav1.TypeMeta{APIVersion: edgev2alpha1.SchemeGroupVersion.String(), Kind: "WrappedObject"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        Name(ref, obj.GetKind()),
			Namespace:   mailbox,
			Labels:      map[string]string{LabelSourceSpace: ref.Space},
			Annotations: map[string]string{AnnotationSource: ref.String()},
		},
		Spec: edgev2alpha1.WrappedObjectSpec{Object: runtime.RawExtension{Raw: raw}, Destination: &dest},
	}, nil
}

// Unwrap decodes the object a wrapper carries, with whole numbers as int64 the way clients
// decode objects, so that it equals the object that was wrapped.
func Unwrap(w *edgev2alpha1.WrappedObject) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if err := utiljson.Unmarshal(w.Spec.Object.Raw, &obj.Object); err != nil {
		return nil, fmt.Errorf("decoding the object in wrapper %s/%s: %w", w.Namespace, w.Name, err)
	}
	return obj, nil
}
