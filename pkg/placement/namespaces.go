package placement

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubestellar/kubestellar/pkg/multicluster"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// reconcileNamespaceContents has every watched object in a namespace looked at again. It runs
// when a namespace appears or its labels change: placements may select objects by the labels
// of their namespace, and after a restart a space's informers may hand out the objects before
// their namespace, so the first look at them could not tell.
func (t *Translator) reconcileNamespaceContents(ctx context.Context, req multicluster.Request) (reconcile.Result, error) {
	space, ok := t.mgr.Cluster(req.Cluster)
	if !ok {
		return reconcile.Result{}, nil
	}
	for gr, k := range t.watchedKinds(space.Name) {
		if !k.namespaced {
			continue
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		if err := space.GetCache().List(ctx, list, client.InNamespace(req.Name), client.UnsafeDisableDeepCopy); err != nil {
			return reconcile.Result{}, fmt.Errorf("listing %s in namespace %s of %s: %w", gr, req.Name, space.Path, err)
		}
		for i := range list.Items {
			t.objects.Enqueue(requestFor(wrapper.ObjectRef{Space: space.Name, GroupResource: gr, Namespace: req.Name, Name: list.Items[i].GetName()}))
		}
	}
	return reconcile.Result{}, nil
}
