package deploy

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	routev1 "github.com/openshift/api/route/v1"

	"github.com/kubestellar/kubestellar/pkg/deploy"
	"github.com/kubestellar/kubestellar/test/framework"
)

// The hosting cluster here is an API server alone: objects are stored and validated, but no
// pod runs (that is the end-to-end test's part), so most deploys say --wait=false.
func TestDeploy(t *testing.T) {
	host := framework.StartAPIServer(t)
	bin := framework.BuildCommands(t, "kubectl-kubestellar")
	hc := hostClient(t, host.Config)
	kubeconfig := framework.WriteKubeconfig(t, map[string]*rest.Config{"host": host.Config})
	dir := t.TempDir()
	run := func(ctx context.Context, args ...string) framework.Result {
		return framework.Run(ctx, dir, filepath.Join(bin, "kubectl-kubestellar"), append(args, "--kubeconfig", kubeconfig)...)
	}
	get := func(t *testing.T, ns, name string, obj client.Object) error {
		return hc.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	}
	const endpoint = "kubestellar.example.test:443"
	ns := deploy.DefaultNamespace

	t.Run("bad flags and values are refused with the fix, and change nothing", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{nil, "--external-endpoint is required"},
			{[]string{"--external-endpoint", "kubestellar.example.test"}, "must be host:port"},
			{[]string{"--external-endpoint", "ks.example.test:99999"}, "the port must be a number from 1 to 65535"},
			{[]string{"--openshift", "maybe"}, "want true or false"},
			{[]string{"--external-endpoint", endpoint, "--set", "exposure.type=bogus"}, "/exposure/type"},
			{[]string{"--external-endpoint", endpoint, "--chart", filepath.Join(dir, "nowhere")}, "--chart"},
		} {
			r := run(t.Context(), append([]string{"deploy"}, c.args...)...)
			require.Error(t, r.Err, "deploy %v", c.args)
			assert.Contains(t, r.Stderr, c.want, "deploy %v", c.args)
		}
		err := get(t, "", ns, &corev1.Namespace{})
		assert.True(t, apierrors.IsNotFound(err), "nothing is created: %v", err)
	})

	t.Run("--dry-run prints the manifests and creates nothing", func(t *testing.T) {
		r := run(t.Context(), "deploy", "--external-endpoint", endpoint, "--dry-run")
		require.NoError(t, r.Err, r.Stderr)
		assert.Contains(t, r.Stdout, "kind: Deployment")
		assert.Contains(t, r.Stdout, "nginx.ingress.kubernetes.io/ssl-passthrough")
		assert.Contains(t, r.Stdout, "dry run: nothing was changed")
		err := get(t, "", ns, &corev1.Namespace{})
		assert.True(t, apierrors.IsNotFound(err), "no namespace: %v", err)
	})

	var firstGeneration int64
	t.Run("deploy installs the chart", func(t *testing.T) {
		r := run(t.Context(), "deploy", "--external-endpoint", endpoint, "--wait=false")
		require.NoError(t, r.Err, r.Stderr)
		assert.Contains(t, r.Stderr, "Installing release kubestellar into namespace kubestellar")
		assert.Contains(t, r.Stderr, "revision 1")

		d := &appsv1.Deployment{}
		require.NoError(t, get(t, ns, deploy.DeploymentName, d))
		firstGeneration = d.Generation
		assert.Equal(t, appsv1.RecreateDeploymentStrategyType, d.Spec.Strategy.Type)
		var names []string
		for _, c := range d.Spec.Template.Spec.Containers {
			names = append(names, c.Name)
			assert.Contains(t, c.Image, "ghcr.io/kubestellar/kubestellar/", "container %s", c.Name)
		}
		assert.ElementsMatch(t, []string{"space-server", "init", "mailbox-controller", "where-resolver", "placement-translator"}, names)

		svc := &corev1.Service{}
		require.NoError(t, get(t, ns, "kubestellar", svc))
		require.Len(t, svc.Spec.Ports, 1)
		assert.Equal(t, int32(6443), svc.Spec.Ports[0].Port)

		ing := &networkingv1.Ingress{}
		require.NoError(t, get(t, ns, "kubestellar", ing))
		assert.Equal(t, "true", ing.Annotations["nginx.ingress.kubernetes.io/ssl-passthrough"])
		require.Len(t, ing.Spec.Rules, 1)
		assert.Equal(t, "kubestellar.example.test", ing.Spec.Rules[0].Host)

		secret := &corev1.Secret{}
		require.NoError(t, get(t, ns, deploy.SecretName, secret))
		assert.Empty(t, secret.Data)

		role := &rbacv1.Role{}
		require.NoError(t, get(t, ns, "kubestellar", role))
		for _, rule := range role.Rules {
			assert.NotContains(t, rule.Verbs, "*", "least privilege")
			assert.NotContains(t, rule.Verbs, "create", "least privilege")
			assert.NotContains(t, rule.Verbs, "list", "least privilege")
			assert.NotEmpty(t, rule.ResourceNames, "every rule names its objects")
		}
	})

	t.Run("deploy again is an upgrade that changes nothing and keeps the published kubeconfigs", func(t *testing.T) {
		// As the init container does once the core runs.
		secret := &corev1.Secret{}
		require.NoError(t, get(t, ns, deploy.SecretName, secret))
		secret.Data = map[string][]byte{deploy.KeyExternal: []byte("written by init")}
		require.NoError(t, hc.Update(t.Context(), secret))

		r := run(t.Context(), "deploy", "--external-endpoint", endpoint, "--wait=false")
		require.NoError(t, r.Err, r.Stderr)
		assert.Contains(t, r.Stderr, "Upgrading release kubestellar in namespace kubestellar")
		assert.Contains(t, r.Stderr, "revision 2")
		d := &appsv1.Deployment{}
		require.NoError(t, get(t, ns, deploy.DeploymentName, d))
		assert.Equal(t, firstGeneration, d.Generation, "the pod template did not change")
		require.NoError(t, get(t, ns, deploy.SecretName, secret))
		assert.Equal(t, "written by init", string(secret.Data[deploy.KeyExternal]))
	})

	t.Run("a changed value rolls the pod, keeping the Secret", func(t *testing.T) {
		r := run(t.Context(), "deploy", "--external-endpoint", endpoint, "--wait=false", "--set", "verbosity=4")
		require.NoError(t, r.Err, r.Stderr)
		d := &appsv1.Deployment{}
		require.NoError(t, get(t, ns, deploy.DeploymentName, d))
		assert.Greater(t, d.Generation, firstGeneration)
		secret := &corev1.Secret{}
		require.NoError(t, get(t, ns, deploy.SecretName, secret))
		assert.Equal(t, "written by init", string(secret.Data[deploy.KeyExternal]))
	})

	t.Run("waiting says what is not ready", func(t *testing.T) {
		// No controller manager runs here, so the Deployment never gets a pod.
		r := run(t.Context(), "deploy", "--external-endpoint", endpoint, "--timeout", "8s")
		require.Error(t, r.Err)
		assert.Contains(t, r.Stderr, "Waiting for KubeStellar")
		assert.Contains(t, r.Stderr, "was not ready within 8s: no pod yet")
	})

	t.Run("on OpenShift: a passthrough Route and the SCC's own user", func(t *testing.T) {
		installRouteCRD(t, host.Config)
		const osns = "ks-openshift"
		r := run(t.Context(), "deploy", "--openshift", "true", "-n", osns, "--wait=false")
		require.NoError(t, r.Err, r.Stderr)
		route := &routev1.Route{}
		require.NoError(t, get(t, osns, "kubestellar", route))
		require.NotNil(t, route.Spec.TLS)
		assert.Equal(t, routev1.TLSTerminationPassthrough, route.Spec.TLS.Termination)
		err := get(t, osns, "kubestellar", &networkingv1.Ingress{})
		assert.True(t, apierrors.IsNotFound(err), "no Ingress on OpenShift: %v", err)
		d := &appsv1.Deployment{}
		require.NoError(t, get(t, osns, deploy.DeploymentName, d))
		psc := d.Spec.Template.Spec.SecurityContext
		require.NotNil(t, psc)
		assert.Nil(t, psc.RunAsUser)
		assert.Nil(t, psc.FSGroup)
	})

	t.Run("get-external-kubeconfig reads what init wrote", func(t *testing.T) {
		r := run(t.Context(), "get-external-kubeconfig", "-o", "-")
		require.NoError(t, r.Err, r.Stderr)
		assert.Equal(t, "written by init", r.Stdout)
	})
}
