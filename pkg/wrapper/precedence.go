package wrapper

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

const (
	// AnnotationPlacement names, on a wrapper, the placement whose claim on the destination
	// it carries, as <space path>/<placement name>: the oldest of those that send it there.
	AnnotationPlacement = "edge.kubestellar.io/placement"
	// AnnotationPrecedence orders, on a wrapper, its claim among wrappers of the same object
	// for one destination from different spaces: the smallest value wins. See Precedence.
	AnnotationPrecedence = "edge.kubestellar.io/precedence"
	// ReasonConflict is the Synced reason of a wrapper whose object another wrapper, which
	// takes precedence, puts into the cluster with other content.
	ReasonConflict = "Conflict"
	// ReasonNotOurs is the Synced reason when the cluster has the object already, made by
	// someone else: it is left alone.
	ReasonNotOurs = "NotOurs"
)

// Precedence is the value of AnnotationPrecedence for a placement: the older placement
// first, then by space path and placement name, so that every syncer chooses the same one
// and keeps it.
func Precedence(created metav1.Time, spacePath, placement string) string {
	return created.UTC().Format("20060102T150405Z") + "/" + spacePath + "/" + placement
}

// PlacementName is the value of AnnotationPlacement.
func PlacementName(spacePath, placement string) string { return spacePath + "/" + placement }

// PrecedenceOf is the precedence of a wrapper; one without the annotation (made before it
// existed) comes after every one with it.
func PrecedenceOf(o metav1.Object) string {
	if p := o.GetAnnotations()[AnnotationPrecedence]; p != "" {
		return p
	}
	return "\uffff"
}

// Identity is the object a wrapper's source reference names, whichever space it comes
// from: group, resource, namespace and name.
func Identity(ref ObjectRef) string {
	ref.Space = ""
	return ref.String()
}

// ClaimOf names the placement whose claim a wrapper carries, or else the wrapper.
func ClaimOf(w *edgev2alpha1.WrappedObject) string {
	if p := w.Annotations[AnnotationPlacement]; p != "" {
		return "placement " + p
	}
	return "wrapper " + w.Name
}

// SameContent reports whether two wrappers carry the same object.
func SameContent(a, b *edgev2alpha1.WrappedObject) bool {
	objA, errA := Unwrap(a)
	objB, errB := Unwrap(b)
	return errA == nil && errB == nil && equality.Semantic.DeepEqual(objA.Object, objB.Object)
}

// TakesPrecedence reports whether wrapper a's claim comes before b's.
func TakesPrecedence(a, b *edgev2alpha1.WrappedObject) bool {
	if pa, pb := PrecedenceOf(a), PrecedenceOf(b); pa != pb {
		return pa < pb
	}
	return a.Name < b.Name
}
