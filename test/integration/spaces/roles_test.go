package spaces

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/test/framework"
)

// TestSpaceRoles checks that each space role's trimmed API server still does what a
// Kubernetes API endpoint does for that role: a workload management space passes a
// conformance-style round of workload, CRD, RBAC, deletion and token checks; the other roles
// serve what KubeStellar's controllers use there, and not the workload APIs.
func TestSpaceRoles(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithRole("roles-wmw", spacev1alpha1.RoleWorkload)
	srv.CreateSpaceWithRole("roles-imw", spacev1alpha1.RoleInventory)
	srv.CreateSpaceWithRole("roles-espw", spacev1alpha1.RoleCore)
	srv.CreateSpace("roles-plain")

	t.Run("workload space conformance", func(t *testing.T) {
		workloadConformance(t, srv, "root:roles-wmw", "root:roles-imw")
	})

	t.Run("minimal spaces serve what KubeStellar uses and no workload API", func(t *testing.T) {
		for _, path := range []string{spaces.RootPath, "root:roles-imw", "root:roles-espw"} {
			cfg := srv.Config(path)
			served := servedResources(t, cfg)
			for _, want := range []string{
				"v1/namespaces", "v1/secrets", "v1/serviceaccounts", "v1/configmaps", "v1/events",
				"rbac.authorization.k8s.io/v1/roles", "rbac.authorization.k8s.io/v1/clusterrolebindings",
				"coordination.k8s.io/v1/leases", "apiextensions.k8s.io/v1/customresourcedefinitions",
				"authorization.k8s.io/v1/subjectaccessreviews", "authentication.k8s.io/v1/selfsubjectreviews",
			} {
				assert.True(t, served[want], "%s serves %s", path, want)
			}
			for _, not := range []string{"apps/v1/deployments", "batch/v1/jobs", "storage.k8s.io/v1/storageclasses"} {
				assert.False(t, served[not], "%s does not serve %s", path, not)
			}
			// The KubeStellar API installs and serves there.
			list, err := crds.Edge()
			require.NoError(t, err)
			require.NoError(t, crds.Install(t.Context(), cfg, list, 2*time.Minute), path)
			assert.True(t, servedResources(t, cfg)["edge.kubestellar.io/v2alpha1/synctargets"], "%s serves SyncTargets", path)
		}
	})

	t.Run("a space of no role serves the whole API", func(t *testing.T) {
		served := servedResources(t, srv.Config("root:roles-plain"))
		for _, want := range []string{"apps/v1/deployments", "batch/v1/jobs", "storage.k8s.io/v1/storageclasses", "certificates.k8s.io/v1/certificatesigningrequests"} {
			assert.True(t, served[want], "a general space serves %s", want)
		}
	})

	t.Run("a space of another role cannot become a workload space", func(t *testing.T) {
		c, _, err := spaces.NewClient(srv.Config(spaces.RootPath))
		require.NoError(t, err)
		_, err = c.EnsureWithRole(t.Context(), "root:roles-imw", spacev1alpha1.RoleWorkload, time.Minute, nil)
		require.ErrorContains(t, err, `space root:roles-imw has the role "inventory", whose API server does not serve the workload APIs`)
		created, err := c.EnsureWithRole(t.Context(), "root:roles-plain", spacev1alpha1.RoleWorkload, time.Minute, nil)
		require.NoError(t, err, "a general space serves the workload APIs")
		assert.False(t, created)
	})

	t.Run("a changed role label restarts the space with that role's API", func(t *testing.T) {
		root := srv.Client(spaces.RootPath)
		space := &spacev1alpha1.Space{}
		require.NoError(t, root.Get(t.Context(), client.ObjectKey{Name: "roles-plain"}, space))
		space.Labels = map[string]string{spacev1alpha1.LabelRole: spacev1alpha1.RoleInventory}
		require.NoError(t, root.Update(t.Context(), space))
		cfg := srv.Config("root:roles-plain")
		// While it restarts the space answers "not found" or "not ready"; then it serves
		// namespaces again, and no Deployments.
		framework.Eventually(t, 2*time.Minute, "root:roles-plain serves namespaces and no Deployments", func() bool {
			dc, err := discovery.NewDiscoveryClientForConfig(cfg)
			if err != nil {
				return false
			}
			_, lists, err := dc.ServerGroupsAndResources()
			if err != nil {
				return false
			}
			gvs := map[string]bool{}
			for _, l := range lists {
				gvs[l.GroupVersion] = true
			}
			return gvs["v1"] && gvs["rbac.authorization.k8s.io/v1"] && !gvs["apps/v1"]
		})
		ready := srv.WaitSpaceReady("roles-plain")
		assert.Equal(t, space.Status.Cluster, ready.Status.Cluster, "the space keeps its ID")
		served := servedResources(t, cfg)
		assert.True(t, served["v1/namespaces"])
		assert.False(t, served["apps/v1/deployments"])
	})
}

// servedResources lists what the server serves, as "group/version/resource" ("v1/..." for
// the core group).
func servedResources(t *testing.T, cfg *rest.Config) map[string]bool {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	require.NoError(t, err)
	_, lists, err := dc.ServerGroupsAndResources()
	require.NoError(t, err)
	out := map[string]bool{}
	for _, l := range lists {
		for _, r := range l.APIResources {
			out[l.GroupVersion+"/"+r.Name] = true
		}
	}
	return out
}

func workloadConformance(t *testing.T, srv *framework.SpaceServer, path, otherPath string) {
	ctx := t.Context()
	cfg := srv.Config(path)
	cs := kubernetes.NewForConfigOrDie(cfg)
	const ns = "conformance"
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)

	t.Run("Deployments and Jobs are stored as given", func(t *testing.T) {
		d, err := cs.AppsV1().Deployments(ns).Create(ctx, framework.Deployment("web", ns), metav1.CreateOptions{})
		require.NoError(t, err)
		got, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, d.UID, got.UID)
		assert.Equal(t, "anywhere", got.Spec.Template.Spec.Containers[0].Env[0].Value)
		// No admission plugin of a node-running cluster rewrites the workload on its way in.
		assert.Empty(t, got.Spec.Template.Spec.Tolerations)
		assert.Empty(t, got.Spec.Template.Spec.PriorityClassName)
		got.Spec.Replicas = ptr.To[int32](3)
		_, err = cs.AppsV1().Deployments(ns).Update(ctx, got, metav1.UpdateOptions{})
		require.NoError(t, err)

		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "once", Namespace: ns},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "main", Image: "registry.example/job:1"}},
			}}},
		}
		_, err = cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{})
		require.NoError(t, err)
		jobs, err := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.Len(t, jobs.Items, 1)
		assert.Equal(t, "once", jobs.Items[0].Name)
	})

	t.Run("a CRD and its custom resource", func(t *testing.T) {
		crd := &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.test"},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: "example.test",
				Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
				Scope: apiextensionsv1.NamespaceScoped,
				Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
					Name: "v1", Served: true, Storage: true,
					Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
						Type: "object",
						Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"size": {Type: "integer", Minimum: ptr.To[float64](1)}}},
						},
					}},
				}},
			},
		}
		require.NoError(t, crds.Install(ctx, cfg, []*apiextensionsv1.CustomResourceDefinition{crd}, 2*time.Minute))
		widgets := dynamic.NewForConfigOrDie(cfg).Resource(schema.GroupVersionResource{Group: "example.test", Version: "v1", Resource: "widgets"}).Namespace(ns)
		w := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.test/v1", "kind": "Widget",
			"metadata": map[string]any{"name": "w1"}, "spec": map[string]any{"size": int64(2)},
		}}
		_, err := widgets.Create(ctx, w, metav1.CreateOptions{})
		require.NoError(t, err)
		got, err := widgets.Get(ctx, "w1", metav1.GetOptions{})
		require.NoError(t, err)
		size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size")
		assert.Equal(t, int64(2), size)
		bad := w.DeepCopy()
		bad.SetName("w2")
		require.NoError(t, unstructured.SetNestedField(bad.Object, int64(0), "spec", "size"))
		_, err = widgets.Create(ctx, bad, metav1.CreateOptions{})
		assert.True(t, apierrors.IsInvalid(err), "the CRD's schema is enforced: %v", err)
	})

	t.Run("RBAC answers SubjectAccessReviews by Roles and RoleBindings", func(t *testing.T) {
		_, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "cm-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-reads"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "cm-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		allowed := func(namespace, verb string) bool {
			sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               "alice",
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Resource: "configmaps"},
			}}, metav1.CreateOptions{})
			require.NoError(t, err)
			return sar.Status.Allowed
		}
		// RBAC caches bindings; the answer comes once the binding is seen.
		framework.Eventually(t, 30*time.Second, "alice may get configmaps in "+ns, func() bool { return allowed(ns, "get") })
		assert.False(t, allowed(ns, "delete"), "alice may not delete configmaps")
		assert.False(t, allowed("default", "get"), "alice may not get configmaps in another namespace")
	})

	t.Run("garbage collection removes dependents of a deleted owner", func(t *testing.T) {
		owner, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Name:            "dependent",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}},
		}}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, cs.CoreV1().ConfigMaps(ns).Delete(ctx, "owner", metav1.DeleteOptions{}))
		framework.Eventually(t, time.Minute, "the dependent Secret is gone", func() bool {
			_, err := cs.CoreV1().Secrets(ns).Get(ctx, "dependent", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})

	t.Run("ServiceAccount tokens authenticate in their space only", func(t *testing.T) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "robot", &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		asRobot := func(path string) (*authenticationv1.SelfSubjectReview, error) {
			c := rest.AnonymousClientConfig(srv.Config(path))
			c.BearerToken = tr.Status.Token
			return kubernetes.NewForConfigOrDie(c).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		}
		review, err := asRobot(path)
		require.NoError(t, err)
		assert.Equal(t, "system:serviceaccount:"+ns+":robot", review.Status.UserInfo.Username)
		_, err = asRobot(otherPath)
		assert.True(t, apierrors.IsUnauthorized(err), "another space refuses the token: %v", err)
	})

	t.Run("deleting a namespace deletes its contents", func(t *testing.T) {
		const doomed = "doomed"
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: doomed}}, metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = cs.AppsV1().Deployments(doomed).Create(ctx, framework.Deployment("web", doomed), metav1.CreateOptions{})
		require.NoError(t, err)
		_, err = cs.CoreV1().ConfigMaps(doomed).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "data"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.NoError(t, cs.CoreV1().Namespaces().Delete(ctx, doomed, metav1.DeleteOptions{}))
		framework.Eventually(t, 2*time.Minute, "namespace "+doomed+" is gone", func() bool {
			_, err := cs.CoreV1().Namespaces().Get(ctx, doomed, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		// A namespace of the same name starts empty.
		_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: doomed}}, metav1.CreateOptions{})
		require.NoError(t, err)
		deps, err := cs.AppsV1().Deployments(doomed).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, deps.Items)
		cms, err := cs.CoreV1().ConfigMaps(doomed).Get(ctx, "data", metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "the old ConfigMap is gone: %v %v", cms, err)
	})
}
