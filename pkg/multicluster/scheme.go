package multicluster

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
)

func newSpaceScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(spacev1alpha1.AddToScheme(s))
	return s
}
