package server_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

// identityConfig is the client configuration, for the space at path, of the kubeconfig the
// server wrote for component.
func identityConfig(t *testing.T, srv *framework.SpaceServer, component, path string) *rest.Config {
	t.Helper()
	file := srv.IdentityKubeconfig(component)
	require.NotEmpty(t, file, "no kubeconfig for %s", component)
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: file},
		&clientcmd.ConfigOverrides{CurrentContext: kubeconfig.BaseContext}).ClientConfig()
	require.NoError(t, err)
	cfg.Timeout = 30 * time.Second
	return spaces.ConfigFor(cfg, path)
}

// may asks the space at path, as component, whether it may do verb on resource (of group)
// in namespace.
func may(t *testing.T, srv *framework.SpaceServer, component, path string, attrs authorizationv1.ResourceAttributes) bool {
	t.Helper()
	cs, err := kubernetes.NewForConfig(identityConfig(t, srv, component, path))
	require.NoError(t, err)
	review, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(t.Context(),
		&authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return review.Status.Allowed
}

// TestComponentIdentities checks that every component has an identity of its own, not
// system:masters, that each space's RBAC lets it do what it needs there and refuses what it
// does not need, and that a root directory made without identities gets them on restart.
func TestComponentIdentities(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	ctx := t.Context()
	srv.CreateSpaceWithRole("espw", spacev1alpha1.RoleCore)
	srv.CreateSpaceWithRole("imw", spacev1alpha1.RoleInventory)
	srv.CreateSpaceWithRole("wmw", spacev1alpha1.RoleWorkload)
	const espw, imw, wmw = "root:espw", "root:imw", "root:wmw"

	t.Run("each identity is its own user, not an administrator", func(t *testing.T) {
		for _, component := range server.Components() {
			cs, err := kubernetes.NewForConfig(identityConfig(t, srv, component, spaces.RootPath))
			require.NoError(t, err)
			review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			require.NoError(t, err)
			assert.Equal(t, "kubestellar:"+component, review.Status.UserInfo.Username)
			assert.Contains(t, review.Status.UserInfo.Groups, "kubestellar:controllers")
			assert.NotContains(t, review.Status.UserInfo.Groups, "system:masters")
		}
	})

	t.Run("each identity may do what its component does", func(t *testing.T) {
		cases := []struct {
			component, path string
			attrs           authorizationv1.ResourceAttributes
		}{
			{server.ComponentMailboxController, espw, authorizationv1.ResourceAttributes{Verb: "create", Resource: "namespaces"}},
			{server.ComponentMailboxController, espw, authorizationv1.ResourceAttributes{Verb: "delete", Resource: "namespaces"}},
			{server.ComponentMailboxController, imw, authorizationv1.ResourceAttributes{Verb: "patch", Group: "edge.kubestellar.io", Resource: "synctargets", Subresource: "status"}},
			{server.ComponentMailboxController, spaces.RootPath, authorizationv1.ResourceAttributes{Verb: "watch", Group: "space.kubestellar.io", Resource: "spaces"}},
			{server.ComponentWhereResolver, wmw, authorizationv1.ResourceAttributes{Verb: "create", Group: "edge.kubestellar.io", Resource: "singleplacementslices"}},
			{server.ComponentWhereResolver, imw, authorizationv1.ResourceAttributes{Verb: "list", Group: "edge.kubestellar.io", Resource: "locations"}},
			{server.ComponentPlacementTranslator, espw, authorizationv1.ResourceAttributes{Verb: "create", Group: "edge.kubestellar.io", Resource: "wrappedobjects", Namespace: "mb"}},
			{server.ComponentPlacementTranslator, wmw, authorizationv1.ResourceAttributes{Verb: "watch", Group: "apps", Resource: "deployments", Namespace: "app"}},
			{server.ComponentPlacementTranslator, wmw, authorizationv1.ResourceAttributes{Verb: "update", Group: "apps", Resource: "deployments", Subresource: "status", Namespace: "app"}},
			{server.ComponentPlacementTranslator, spaces.RootPath, authorizationv1.ResourceAttributes{Verb: "update", Group: "coordination.k8s.io", Resource: "leases", Namespace: "kube-system"}},
			{server.ComponentInit, spaces.RootPath, authorizationv1.ResourceAttributes{Verb: "create", Group: "space.kubestellar.io", Resource: "spaces"}},
			{server.ComponentInit, imw, authorizationv1.ResourceAttributes{Verb: "patch", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}},
		}
		for _, c := range cases {
			assert.True(t, may(t, srv, c.component, c.path, c.attrs), "%s may not %+v in %s", c.component, c.attrs, c.path)
		}
	})

	t.Run("each identity is refused what its component does not do", func(t *testing.T) {
		list, err := crds.Edge()
		require.NoError(t, err)
		for _, path := range []string{espw, imw, wmw} {
			require.NoError(t, crds.Install(ctx, srv.Config(path), list, 2*time.Minute))
		}
		// The API server's own answers: its authorizer's, and its refusal of real reads.
		// Writes are asked by review: through the front proxy, a write that the API server
		// refuses without reading its body can leave the client waiting.
		cases := []struct {
			component, path string
			attrs           authorizationv1.ResourceAttributes
		}{
			{server.ComponentWhereResolver, espw, authorizationv1.ResourceAttributes{Verb: "delete", Resource: "namespaces", Name: "mb"}},
			{server.ComponentMailboxController, espw, authorizationv1.ResourceAttributes{Verb: "create", Group: "edge.kubestellar.io", Resource: "wrappedobjects", Namespace: "mb"}},
			{server.ComponentPlacementTranslator, spaces.RootPath, authorizationv1.ResourceAttributes{Verb: "create", Group: "space.kubestellar.io", Resource: "spaces"}},
			{server.ComponentInit, wmw, authorizationv1.ResourceAttributes{Verb: "delete", Resource: "namespaces", Name: "app"}},
			{server.ComponentPlacementTranslator, imw, authorizationv1.ResourceAttributes{Verb: "patch", Group: "edge.kubestellar.io", Resource: "synctargets"}},
			{server.ComponentWhereResolver, wmw, authorizationv1.ResourceAttributes{Verb: "create", Resource: "secrets", Namespace: "app"}},
			{server.ComponentMailboxController, wmw, authorizationv1.ResourceAttributes{Verb: "create", Group: "edge.kubestellar.io", Resource: "singleplacementslices"}},
		}
		for _, c := range cases {
			assert.False(t, may(t, srv, c.component, c.path, c.attrs), "%s may %+v in %s", c.component, c.attrs, c.path)
		}

		as := func(component, path string) client.Client {
			c, err := client.New(identityConfig(t, srv, component, path), client.Options{Scheme: apis.NewScheme()})
			require.NoError(t, err)
			return c
		}
		forbidden := func(err error, what string) {
			t.Helper()
			assert.True(t, apierrors.IsForbidden(err), "%s: want 403 Forbidden, got %v", what, err)
		}
		forbidden(as(server.ComponentMailboxController, espw).List(ctx, &edgev2alpha1.WrappedObjectList{}),
			"mailbox controller reading wrappers")
		forbidden(as(server.ComponentWhereResolver, wmw).List(ctx, &corev1.SecretList{}),
			"where-resolver reading Secrets in a workload space")
		forbidden(as(server.ComponentInit, wmw).List(ctx, &corev1.NamespaceList{}),
			"init reading namespaces in a workload space")
		forbidden(as(server.ComponentPlacementTranslator, espw).List(ctx, &corev1.SecretList{}),
			"placement translator reading Secrets in the core space")
	})

	t.Run("a root directory made without identities gets them on restart", func(t *testing.T) {
		srv.Stop()
		pkiDir := filepath.Join(srv.Options.RootDir, "pki", "clients")
		for _, component := range server.Components() {
			require.NoError(t, os.Remove(filepath.Join(pkiDir, component+".crt")))
			require.NoError(t, os.Remove(filepath.Join(pkiDir, component+".key")))
		}
		require.NoError(t, os.RemoveAll(filepath.Join(srv.Options.RootDir, server.IdentitiesDir)))
		srv.Start()
		srv.WaitSpaceReady("wmw")
		for _, component := range server.Components() {
			assert.FileExists(t, server.IdentityKubeconfig(srv.Options.RootDir, component))
		}
		assert.True(t, may(t, srv, server.ComponentWhereResolver, wmw,
			authorizationv1.ResourceAttributes{Verb: "patch", Group: "edge.kubestellar.io", Resource: "singleplacementslices"}))
		assert.False(t, may(t, srv, server.ComponentWhereResolver, espw,
			authorizationv1.ResourceAttributes{Verb: "delete", Resource: "namespaces"}))
	})
}
