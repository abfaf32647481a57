// Package wrapper is the format of what travels through a mailbox: one WrappedObject per
// workload object per destination, named from the object's identity and annotated with where
// it comes from, holding the object without what its own server owns.
package wrapper

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
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
