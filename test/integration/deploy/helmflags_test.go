package deploy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/deploy"
	"github.com/kubestellar/kubestellar/test/framework"
)

// helmBinary returns the helm CLI: $HELM when set, else one built from the Go module that
// go.mod names (as `make helm` does).
func helmBinary(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	bin := filepath.Join(t.TempDir(), "helm")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "helm.sh/helm/v3/cmd/helm")
	cmd.Dir = framework.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building helm: %s", out)
	return bin
}

// TestDeployAsDocumented types the documents' deploy and removal: the namespace comes from
// the kubeconfig, helm upgrade's flags go through to Helm, and `helm delete kubestellar`
// removes the release.
func TestDeployAsDocumented(t *testing.T) {
	host := framework.StartAPIServer(t)
	bin := framework.BuildCommands(t, "kubectl-kubestellar")
	helm := helmBinary(t)
	hc := hostClient(t, host.Config)
	const ns = "ks-from-kubeconfig"
	const endpoint = "kubestellar.example.test:443"

	// A kubeconfig whose context names a namespace, as `kubectl config set-context
	// --current --namespace` leaves it.
	kubeconfig := framework.WriteKubeconfig(t, map[string]*rest.Config{"host": host.Config})
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	require.NoError(t, err)
	cfg.Contexts["host"].Namespace = ns
	require.NoError(t, clientcmd.WriteToFile(*cfg, kubeconfig))

	dir := t.TempDir()
	run := func(ctx context.Context, program string, args ...string) framework.Result {
		return framework.Run(ctx, dir, program, append(args, "--kubeconfig", kubeconfig)...)
	}
	plugin := filepath.Join(bin, "kubectl-kubestellar")
	get := func(name string, obj client.Object) error {
		return hc.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	}

	t.Run("the namespace is the kubeconfig's and helm flags go to Helm", func(t *testing.T) {
		r := run(t.Context(), plugin, "deploy", "--external-endpoint", endpoint, "--wait=false",
			"--description", "first by the documents", "--labels", "team=edge", "--set-string", "image.tag=v1.2.3")
		require.NoError(t, r.Err, r.Stderr)
		assert.Contains(t, r.Stderr, "Installing release kubestellar into namespace "+ns)
		assert.Contains(t, r.Stderr, "To remove it: helm delete kubestellar\n")
		require.NoError(t, get(deploy.DeploymentName, &appsv1.Deployment{}))
		err := hc.Get(t.Context(), client.ObjectKey{Namespace: deploy.DefaultNamespace, Name: deploy.DeploymentName}, &appsv1.Deployment{})
		assert.True(t, apierrors.IsNotFound(err), "nothing in namespace %s: %v", deploy.DefaultNamespace, err)

		h := run(t.Context(), helm, "history", "kubestellar", "-o", "json")
		require.NoError(t, h.Err, h.Stderr)
		var revisions []struct {
			Revision    int    `json:"revision"`
			Description string `json:"description"`
		}
		require.NoError(t, json.Unmarshal([]byte(h.Stdout), &revisions), h.Stdout)
		require.Len(t, revisions, 1)
		assert.Equal(t, "first by the documents", revisions[0].Description)

		var secrets corev1.SecretList
		require.NoError(t, hc.List(t.Context(), &secrets, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "team": "edge"}))
		assert.Len(t, secrets.Items, 1, "--labels labels the release")

		g := run(t.Context(), helm, "get", "values", "kubestellar", "-o", "json")
		require.NoError(t, g.Err, g.Stderr)
		assert.Contains(t, g.Stdout, `"tag":"v1.2.3"`, "--set-string went to Helm")
	})

	t.Run("--version is checked against the chart", func(t *testing.T) {
		r := run(t.Context(), plugin, "deploy", "--external-endpoint", endpoint, "--wait=false", "--version", ">=99.0.0")
		require.Error(t, r.Err)
		assert.Contains(t, r.Stderr, `--version ">=99.0.0": the chart here is version`)
		r = run(t.Context(), plugin, "deploy", "--external-endpoint", endpoint, "--wait=false", "--version", "not a version")
		require.Error(t, r.Err)
		assert.Contains(t, r.Stderr, `--version "not a version" is not a version constraint`)
	})

	t.Run("--atomic rolls back an upgrade that does not become ready", func(t *testing.T) {
		// No pod ever runs here, so Helm's own wait, which --atomic turns on, times out.
		r := run(t.Context(), plugin, "deploy", "--external-endpoint", endpoint, "--atomic", "--timeout", "5s", "--set", "verbosity=5")
		require.Error(t, r.Err)
		// The rollback waits as well, so it reports the timeout too, but it is done.
		assert.Contains(t, r.Stderr, "rolling back the release")
		g := run(t.Context(), helm, "get", "values", "kubestellar", "-o", "json")
		require.NoError(t, g.Err, g.Stderr)
		assert.Contains(t, g.Stdout, `"tag":"v1.2.3"`, "the values are the first revision's again")
		assert.NotContains(t, g.Stdout, `"verbosity":5`)
	})

	t.Run("get-external-kubeconfig reads the kubeconfig's namespace too", func(t *testing.T) {
		secret := &corev1.Secret{}
		require.NoError(t, get(deploy.SecretName, secret))
		secret.Data = map[string][]byte{deploy.KeyExternal: []byte("external of " + ns)}
		require.NoError(t, hc.Update(t.Context(), secret))
		r := run(t.Context(), plugin, "get-external-kubeconfig", "-o", "-")
		require.NoError(t, r.Err, r.Stderr)
		assert.Equal(t, "external of "+ns, r.Stdout)
	})

	t.Run("helm delete kubestellar removes it", func(t *testing.T) {
		r := run(t.Context(), helm, "delete", "kubestellar")
		require.NoError(t, r.Err, r.Stderr)
		assert.Contains(t, r.Stdout, `release "kubestellar" uninstalled`)
		for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}, &corev1.Secret{}} {
			err := get("kubestellar", obj)
			assert.True(t, apierrors.IsNotFound(err), "%T is gone: %v", obj, err)
		}
	})
}
