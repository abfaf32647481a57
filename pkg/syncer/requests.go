package syncer

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// requestFor is the work-queue request for the object ref names.
func requestFor(ref wrapper.ObjectRef) multicluster.Request {
	return multicluster.Request{Cluster: ref.Space, GroupResource: ref.GroupResource,
		NamespacedName: types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}}
}

// refOf is the object a request made by requestFor names; false for a request without a kind.
func refOf(req multicluster.Request) (wrapper.ObjectRef, bool) {
	return wrapper.ObjectRef{Space: req.Cluster, GroupResource: req.GroupResource, Namespace: req.Namespace, Name: req.Name}, req.Resource != ""
}
