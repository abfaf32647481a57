// Package wrapper is the format of what travels through a mailbox: one WrappedObject per
// workload object per destination, named from the object's identity and annotated with where
// it comes from, holding the object without what its own server owns.
package wrapper

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

// ObjectRef names a workload object in a space.
type ObjectRef struct {
	// Space is the ID of the space (workload management workspace) holding the object.
	Space string
	schema.GroupResource
	Namespace, Name string
}

// String is space/group/resource/namespace/name, the value of AnnotationSource.
func (r ObjectRef) String() string {
	return strings.Join([]string{r.Space, r.Group, r.Resource, r.Namespace, r.Name}, "/")
}

// ParseObjectRef reads what String writes.
func ParseObjectRef(s string) (ObjectRef, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" || parts[4] == "" {
		return ObjectRef{}, fmt.Errorf("%q is not space/group/resource/namespace/name", s)
	}
	return ObjectRef{Space: parts[0], GroupResource: schema.GroupResource{Group: parts[1], Resource: parts[2]}, Namespace: parts[3], Name: parts[4]}, nil
}

// Request encodes the reference as a work-queue request: the resource and group travel in
// the name, as "<resource>.<group>/<name>" (names hold no "/").
func (r ObjectRef) Request() multicluster.Request {
	return multicluster.Request{Cluster: r.Space, NamespacedName: types.NamespacedName{
		Namespace: r.Namespace, Name: r.Resource + "." + r.Group + "/" + r.Name,
	}}
}

// RefFromRequest decodes what Request encodes.
func RefFromRequest(req multicluster.Request) (ObjectRef, bool) {
	gr, name, ok := strings.Cut(req.Name, "/")
	if !ok {
		return ObjectRef{}, false
	}
	resource, group, _ := strings.Cut(gr, ".")
	return ObjectRef{Space: req.Cluster, GroupResource: schema.GroupResource{Group: group, Resource: resource}, Namespace: req.Namespace, Name: name}, true
}
