package server

import (
	"context"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
)

// SetupSpaceControllerForTest registers with mgr the space controller of a server that runs
// no spaces, and returns its notify function.
func SetupSpaceControllerForTest(mgr ctrl.Manager) (func(path string), error) {
	r := &spaceReconciler{client: mgr.GetClient(), set: newSpaceSet(context.Background(), &runnerEnv{}), baseURL: "https://127.0.0.1:1", replicas: &replicas{}}
	return setupSpaceController(mgr, r)
}

// HoldSpaceLoadingForTest makes a server started with o wait, once its front proxy and root
// space serve but before it loads the Spaces declared earlier, until release is closed.
func HoldSpaceLoadingForTest(o *Options, release <-chan struct{}) {
	o.beforeResume = func(ctx context.Context) {
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
}

// ResumeSpacesForTest reads, as a starting server does, the Spaces declared in the root
// space that cfg reaches, for a server that runs no spaces.
func ResumeSpacesForTest(ctx context.Context, cfg *rest.Config) error {
	return resumeSpaces(ctx, cfg, newSpaceSet(context.Background(), &runnerEnv{}), func(*spacev1alpha1.Space) bool { return true })
}
