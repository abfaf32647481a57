// Package apis gathers KubeStellar's API groups for clients that use them together.
package apis

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
)

// AddToScheme adds every KubeStellar API group to a scheme.
func AddToScheme(s *runtime.Scheme) error {
	builder := runtime.NewSchemeBuilder(edgev2alpha1.AddToScheme, spacev1alpha1.AddToScheme)
	return builder.AddToScheme(s)
}

// NewScheme returns a scheme with the built-in Kubernetes types (CRDs included) and
// KubeStellar's.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(AddToScheme(s))
	return s
}
