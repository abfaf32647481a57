package charts_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubestellar/kubestellar/charts"
	"github.com/kubestellar/kubestellar/test/framework"
)

// cluster is a real kube-apiserver with the Helm SDK and clients pointed at it.
type cluster struct {
	t      *testing.T
	config *rest.Config
	client kubernetes.Interface
	helm   *action.Configuration
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	srv := framework.StartAPIServer(t)
	kubeconfig := framework.WriteKubeconfig(t, map[string]*rest.Config{"admin": srv.Config})
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	ns := namespace
	flags.Namespace = &ns
	cfg := &action.Configuration{}
	require.NoError(t, cfg.Init(flags, namespace, "secret", t.Logf))
	client, err := kubernetes.NewForConfig(srv.Config)
	require.NoError(t, err)
	return &cluster{t: t, config: srv.Config, client: client, helm: cfg}
}

// createNamespace makes the release namespace enforce the "restricted" Pod Security level.
func (c *cluster) createNamespace() {
	_, err := c.client.CoreV1().Namespaces().Create(c.t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   namespace,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
	}}, metav1.CreateOptions{})
	require.NoError(c.t, err)
}

func (c *cluster) install(chrt *chart.Chart, vals map[string]any) {
	c.t.Helper()
	install := action.NewInstall(c.helm)
	install.ReleaseName = releaseName
	install.Namespace = namespace
	_, err := install.Run(chrt, vals)
	require.NoError(c.t, err)
}

func (c *cluster) upgrade(chrt *chart.Chart, vals map[string]any) {
	c.t.Helper()
	upgrade := action.NewUpgrade(c.helm)
	upgrade.Namespace = namespace
	_, err := upgrade.Run(releaseName, chrt, vals)
	require.NoError(c.t, err)
}

func (c *cluster) uninstall() {
	c.t.Helper()
	_, err := action.NewUninstall(c.helm).Run(releaseName)
	require.NoError(c.t, err)
}

// asServiceAccount is a client acting as the pod's ServiceAccount, as the init container does.
func (c *cluster) asServiceAccount() kubernetes.Interface {
	cfg := rest.CopyConfig(c.config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":kubestellar",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	client, err := kubernetes.NewForConfig(cfg)
	require.NoError(c.t, err)
	return client
}

// TestReleaseKeepsSecretData installs the chart into a real API server, fills the Secret the
// way the init container does (as the pod's ServiceAccount), and checks that upgrades —
// including one that changes the Secret's labels — leave the data alone, and that deleting
// the release deletes the Secret.
func TestReleaseKeepsSecretData(t *testing.T) {
	c := startCluster(t)
	c.createNamespace()
	chrt, err := charts.Load()
	require.NoError(t, err)
	c.install(chrt, withEndpoint())

	ctx := t.Context()
	secrets := c.asServiceAccount().CoreV1().Secrets(namespace)
	secret, err := secrets.Get(ctx, "kubestellar", metav1.GetOptions{})
	require.NoError(t, err, "the ServiceAccount reads the Secret")
	assert.Empty(t, secret.Data, "the chart creates the Secret empty")
	data := map[string][]byte{
		"admin.kubeconfig":    []byte("admin"),
		"cluster.kubeconfig":  []byte("cluster"),
		"external.kubeconfig": []byte("external"),
	}
	secret.Data = data
	_, err = secrets.Update(ctx, secret, metav1.UpdateOptions{})
	require.NoError(t, err, "the ServiceAccount fills the Secret")

	c.upgrade(chrt, withEndpoint("verbosity", 4))
	secret, err = c.client.CoreV1().Secrets(namespace).Get(ctx, "kubestellar", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, data, secret.Data, "an upgrade keeps what the init container wrote")
	d, err := c.client.AppsV1().Deployments(namespace).Get(ctx, "kubestellar", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, d.Spec.Template.Spec.Containers[0].Args, "-v=4", "the upgrade was applied")

	newer, err := charts.Load()
	require.NoError(t, err)
	newer.Metadata.Version = "0.0.1"
	newer.Metadata.AppVersion = "v0.0.1"
	c.upgrade(newer, withEndpoint())
	secret, err = c.client.CoreV1().Secrets(namespace).Get(ctx, "kubestellar", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "v0.0.1", secret.Labels["app.kubernetes.io/version"], "the upgrade changed the Secret's labels")
	assert.Equal(t, data, secret.Data, "and kept its data")

	c.uninstall()
	_, err = c.client.CoreV1().Secrets(namespace).Get(ctx, "kubestellar", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "helm delete deletes the Secret: %v", err)
	pvc, err := c.client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, "kubestellar-state", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err) || pvc.DeletionTimestamp != nil, "helm delete deletes the claim: %v", err)
}

// TestReleaseRBAC checks, against the real RBAC authorizer, that the pod's ServiceAccount can
// do what the init container needs and nothing more.
func TestReleaseRBAC(t *testing.T) {
	c := startCluster(t)
	c.createNamespace()
	chrt, err := charts.Load()
	require.NoError(t, err)
	c.install(chrt, withEndpoint())
	ctx := t.Context()

	other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: namespace}}
	_, err = c.client.CoreV1().Secrets(namespace).Create(ctx, other, metav1.CreateOptions{})
	require.NoError(t, err)

	sa := c.asServiceAccount()
	_, err = sa.CoreV1().Secrets(namespace).Patch(ctx, "kubestellar", "application/merge-patch+json",
		[]byte(`{"data":{"admin.kubeconfig":"YQ=="}}`), metav1.PatchOptions{})
	assert.NoError(t, err, "patch the Secret")
	_, err = sa.NetworkingV1().Ingresses(namespace).Get(ctx, "kubestellar", metav1.GetOptions{})
	assert.NoError(t, err, "read the Ingress")

	forbidden := map[string]error{}
	_, forbidden["get another Secret"] = sa.CoreV1().Secrets(namespace).Get(ctx, "other", metav1.GetOptions{})
	_, forbidden["list Secrets"] = sa.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{})
	forbidden["delete the Secret"] = sa.CoreV1().Secrets(namespace).Delete(ctx, "kubestellar", metav1.DeleteOptions{})
	_, forbidden["create a Secret"] = sa.CoreV1().Secrets(namespace).Create(ctx,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, metav1.CreateOptions{})
	ing, err := c.client.NetworkingV1().Ingresses(namespace).Get(ctx, "kubestellar", metav1.GetOptions{})
	require.NoError(t, err)
	_, forbidden["update the Ingress"] = sa.NetworkingV1().Ingresses(namespace).Update(ctx, ing, metav1.UpdateOptions{})
	_, forbidden["read the Deployment"] = sa.AppsV1().Deployments(namespace).Get(ctx, "kubestellar", metav1.GetOptions{})
	_, forbidden["read a Secret elsewhere"] = sa.CoreV1().Secrets("default").Get(ctx, "kubestellar", metav1.GetOptions{})
	for what, err := range forbidden {
		assert.True(t, apierrors.IsForbidden(err), "%s must be forbidden, got %v", what, err)
	}
}

// TestReleasePodSecurity creates the pod the Deployment describes in a namespace that enforces
// Pod Security "restricted", with and without the OpenShift settings: the real admission
// plugin admits it.
func TestReleasePodSecurity(t *testing.T) {
	c := startCluster(t)
	c.createNamespace()
	ctx := t.Context()
	for _, openshift := range []bool{false, true} {
		d := mustRender(t, withEndpoint("openshift", openshift)).deployment(t)
		// The chart's ServiceAccount must exist for the pod to be admitted.
		if !openshift {
			_, err := c.client.CoreV1().ServiceAccounts(namespace).Create(ctx,
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "kubestellar"}}, metav1.CreateOptions{})
			require.NoError(t, err)
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "kubestellar-", Namespace: namespace, Labels: d.Spec.Template.Labels},
			Spec:       d.Spec.Template.Spec,
		}
		_, err := c.client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		assert.NoError(t, err, "openshift=%v: the pod passes Pod Security restricted", openshift)
	}

	// The namespace really enforces: the same pod allowed to escalate privileges is refused.
	d := mustRender(t, withEndpoint()).deployment(t)
	escalate := true
	d.Spec.Template.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = &escalate
	_, err := c.client.CoreV1().Pods(namespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "kubestellar-", Namespace: namespace},
		Spec:       d.Spec.Template.Spec,
	}, metav1.CreateOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `violates PodSecurity "restricted`)
}
