//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestellar/kubestellar/test/framework"
)

// env is the suite's surroundings, from the environment hack/e2e.sh sets.
type env struct {
	kubeconfig, endpoint            string
	registry, repository, tag       string
	kubectlImage, binDir            string
	kubectl, helm, timings, workDir string
}

func getenv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set; run the end-to-end tests with make e2e", name)
	}
	return v
}

func newEnv(t *testing.T) *env {
	return &env{
		kubeconfig:   getenv(t, "KUBECONFIG"),
		endpoint:     getenv(t, "KUBESTELLAR_E2E_EXTERNAL_ENDPOINT"),
		registry:     getenv(t, "KUBESTELLAR_E2E_IMAGE_REGISTRY"),
		repository:   getenv(t, "KUBESTELLAR_E2E_IMAGE_REPOSITORY"),
		tag:          getenv(t, "KUBESTELLAR_E2E_IMAGE_TAG"),
		kubectlImage: getenv(t, "KUBESTELLAR_E2E_KUBECTL_IMAGE"),
		binDir:       getenv(t, "KUBESTELLAR_E2E_BIN_DIR"),
		kubectl:      getenv(t, "KUBECTL"),
		helm:         getenv(t, "HELM"),
		timings:      os.Getenv("KUBESTELLAR_E2E_TIMINGS"),
		workDir:      t.TempDir(),
	}
}

// run runs a program in the work directory, its output also going to the test's stderr as it
// comes (a user's view of long waits), and returns the output.
func (e *env) run(ctx context.Context, program string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Dir = e.workDir
	var out bytes.Buffer
	w := io.MultiWriter(&out, os.Stderr)
	cmd.Stdout, cmd.Stderr = w, w
	fmt.Fprintf(os.Stderr, "\n$ %s %s\n", filepath.Base(program), strings.Join(args, " "))
	err := cmd.Run()
	return out.String(), err
}

// must runs a program and fails the test if it fails.
func (e *env) must(t *testing.T, program string, args ...string) string {
	t.Helper()
	out, err := e.run(t.Context(), program, args...)
	require.NoError(t, err, "%s %v:\n%s", program, args, out)
	return out
}

// k runs kubectl with a kubeconfig.
func (e *env) k(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	return e.must(t, e.kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// ks runs kubectl-kubestellar against the hosting cluster unless args name a kubeconfig.
func (e *env) ks(t *testing.T, args ...string) string {
	t.Helper()
	if !slices.Contains(args, "--kubeconfig") {
		args = append(args, "--kubeconfig", e.kubeconfig)
	}
	return e.must(t, filepath.Join(e.binDir, "kubectl-kubestellar"), args...)
}

// quiet runs kubectl without echoing its output: for reading secrets, which must not reach
// the test log.
func (e *env) quiet(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), e.kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "kubectl %v: %s", args, stderr.String())
	return string(out)
}

// secretKey returns a key of the core's Secret, as stored (base64), without logging it.
func (e *env) secretKey(t *testing.T, namespace, key string) string {
	t.Helper()
	return e.quiet(t, e.kubeconfig, "get", "secret", "kubestellar", "-n", namespace, "-o", "jsonpath={.data."+strings.ReplaceAll(key, ".", "\\.")+"}")
}

// eventually retries a kubectl command until its output satisfies ok.
func (e *env) eventually(t *testing.T, timeout time.Duration, what string, ok func(string) bool, kubeconfig string, args ...string) string {
	t.Helper()
	var out string
	var err error
	pollErr := wait.PollUntilContextTimeout(t.Context(), 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		cmd := exec.CommandContext(ctx, e.kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		var b []byte
		b, err = cmd.CombinedOutput()
		out = string(b)
		return err == nil && ok(out), nil
	})
	require.NoError(t, pollErr, "%s: last output of kubectl %v (error %v):\n%s", what, args, err, out)
	return out
}

// record appends a phase's time to the table hack/e2e.sh prints.
func (e *env) record(phase string, since time.Time) {
	fmt.Fprintf(os.Stderr, "--- %s: %.1fs\n", phase, time.Since(since).Seconds())
	if e.timings == "" {
		return
	}
	f, err := os.OpenFile(e.timings, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	fmt.Fprintf(f, "%s\t%.1f\n", phase, time.Since(since).Seconds())
}

func (e *env) imageFlags() []string {
	return []string{
		"--set", "image.registry=" + e.registry, "--set", "image.repository=" + e.repository,
		"--set-string", "image.tag=" + e.tag,
	}
}

func hasAll(parts ...string) func(string) bool {
	return func(out string) bool {
		for _, p := range parts {
			if !strings.Contains(out, p) {
				return false
			}
		}
		return true
	}
}

// statePV makes a hostPath PersistentVolume for the core's state (the cluster has no
// provisioner), removed when the test ends.
func (e *env) statePV(t *testing.T, name string) {
	t.Helper()
	dir := filepath.Join(e.workDir, name)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	// The space server runs as user 65532 and a hostPath volume ignores fsGroup.
	require.NoError(t, os.Chown(dir, 65532, 65532))
	pv := framework.WriteFile(t, "pv.yaml", fmt.Sprintf(`apiVersion: v1
kind: PersistentVolume
metadata: {name: %s}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: %s, type: Directory}
`, name, dir))
	e.k(t, e.kubeconfig, "apply", "-f", pv)
	t.Cleanup(func() {
		_, _ = e.run(context.Background(), e.kubectl, "--kubeconfig", e.kubeconfig, "delete", "pv", name, "--ignore-not-found", "--wait=false")
	})
}

// TestKubeStellarInACluster goes through the life of a deployed KubeStellar, in order: each
// step needs the ones before it.
func TestKubeStellarInACluster(t *testing.T) {
	suite := t
	e := newEnv(t)
	const ns = "kubestellar"
	e.statePV(t, "kubestellar-e2e-state")

	ok := t.Run("deploy: all pods Ready, with progress", func(t *testing.T) {
		start := time.Now()
		out := e.ks(t, append([]string{"deploy", "--external-endpoint", e.endpoint, "--timeout", "15m"}, e.imageFlags()...)...)
		e.record("deploy → Ready", start)
		assert.Contains(t, out, "Installing release kubestellar into namespace kubestellar")
		assert.Contains(t, out, "Waiting for KubeStellar")
		assert.Contains(t, out, "KubeStellar is ready")
		pods := e.k(t, e.kubeconfig, "get", "pods", "-n", ns, "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.containerStatuses[*].ready}{\"\\n\"}{end}")
		assert.Contains(t, pods, "true true true true true", "five containers, all ready:\n%s", pods)
	})
	require.True(t, ok, "KubeStellar did not deploy; the rest depends on it")

	ext := filepath.Join(e.workDir, "ks.kubeconfig")
	t.Run("get-external-kubeconfig: kubectl through the ingress, only the chart's CA trusted", func(t *testing.T) {
		start := time.Now()
		e.ks(t, "get-external-kubeconfig", "-o", ext)
		info, err := os.Stat(ext)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		cfg, err := clientcmd.LoadFromFile(ext)
		require.NoError(t, err)
		for name, c := range cfg.Clusters {
			assert.False(t, c.InsecureSkipTLSVerify, "cluster %s", name)
			assert.NotEmpty(t, c.CertificateAuthorityData, "cluster %s", name)
			assert.Contains(t, c.Server, e.endpoint, "cluster %s", name)
		}
		out := e.eventually(t, 2*time.Minute, "spaces through the ingress", hasAll("espw", "imw1", "wmw1"), ext, "get", "spaces")
		t.Log(out)
		e.record("external kubeconfig usable", start)
	})

	t.Run("get-internal-kubeconfig works from a pod in the cluster", func(t *testing.T) {
		in := filepath.Join(e.workDir, "internal.kubeconfig")
		e.ks(t, "get-internal-kubeconfig", "-o", in)
		e.k(t, e.kubeconfig, "create", "namespace", "e2e-client")
		e.k(t, e.kubeconfig, "create", "secret", "generic", "internal-kubeconfig", "-n", "e2e-client", "--from-file=kubeconfig="+in)
		pod := framework.WriteFile(t, "client-pod.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: kubectl, namespace: e2e-client}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: kubectl
    image: %s
    imagePullPolicy: IfNotPresent
    args: [--kubeconfig, /kubeconfig/kubeconfig, get, spaces]
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    volumeMounts: [{name: kubeconfig, mountPath: /kubeconfig, readOnly: true}]
  volumes: [{name: kubeconfig, secret: {secretName: internal-kubeconfig}}]
`, e.kubectlImage))
		e.k(t, e.kubeconfig, "apply", "-f", pod)
		e.eventually(t, 3*time.Minute, "the kubectl pod to finish", hasAll("Succeeded"), e.kubeconfig,
			"get", "pod", "kubectl", "-n", "e2e-client", "-o", "jsonpath={.status.phase}")
		logs := e.k(t, e.kubeconfig, "logs", "-n", "e2e-client", "kubectl")
		assert.Contains(t, logs, "espw")
		assert.Contains(t, logs, "wmw1")
		_, _ = e.run(t.Context(), e.kubectl, "--kubeconfig", e.kubeconfig, "delete", "namespace", "e2e-client", "--wait=false")
	})

	// florin is the hosting cluster itself, its syncer a Deployment there; guilder is an API
	// server alone, its syncer a process here.
	guilder := framework.StartAPIServer(t)
	guilderKubeconfig := framework.WriteKubeconfig(t, map[string]*rest.Config{"guilder": guilder.Config})
	wmw := filepath.Join(e.workDir, "wmw1.kubeconfig")
	syncerImage := fmt.Sprintf("%s/%s/syncer:%s", e.registry, e.repository, e.tag)
	t.Run("workload at the edge: on the node and on an API-only cluster, status back", func(t *testing.T) {
		start := time.Now()
		e.ks(t, "prep-for-cluster", "florin", "env=prod", "node=real", "--imw", "root:imw1", "--syncer-image", syncerImage,
			"-o", filepath.Join(e.workDir, "florin-syncer.yaml"), "--kubeconfig", ext)
		e.k(t, e.kubeconfig, "apply", "-f", filepath.Join(e.workDir, "florin-syncer.yaml"))
		e.ks(t, "prep-for-cluster", "guilder", "env=prod", "--imw", "root:imw1", "--syncer-image", syncerImage,
			"-o", filepath.Join(e.workDir, "guilder-syncer.yaml"), "--kubeconfig", ext)
		e.k(t, guilderKubeconfig, "apply", "-f", filepath.Join(e.workDir, "guilder-syncer.yaml"))
		syncerNS := strings.TrimSpace(e.k(t, guilderKubeconfig, "get", "secrets", "-A", "-l", "app.kubernetes.io/name=kubestellar-syncer",
			"-o", "jsonpath={.items[0].metadata.namespace}"))
		mailboxKC := e.quiet(t, guilderKubeconfig, "get", "secret", "-n", syncerNS, "kubestellar-syncer-guilder", "-o", "jsonpath={.data.kubeconfig}")
		mailboxFile := filepath.Join(e.workDir, "guilder-mailbox.kubeconfig")
		decodeBase64To(t, mailboxKC, mailboxFile)
		syncer := exec.Command(filepath.Join(e.binDir, "kubestellar-syncer"), "--from-kubeconfig", mailboxFile,
			"--to-kubeconfig", guilderKubeconfig, "--sync-target-name", "guilder", "-v=2")
		logFile, err := os.Create(filepath.Join(e.workDir, "syncer-guilder.log"))
		require.NoError(t, err)
		syncer.Stdout, syncer.Stderr = logFile, logFile
		require.NoError(t, syncer.Start())
		// The syncer serves the steps after this one too.
		suite.Cleanup(func() { _ = syncer.Process.Kill(); _ = syncer.Wait(); _ = logFile.Close() })

		e.eventually(t, 3*time.Minute, "florin's syncer running on the node", hasAll("1"), e.kubeconfig,
			"get", "deployments", "-A", "-l", "app.kubernetes.io/name=kubestellar-syncer", "-o", "jsonpath={.items[0].status.availableReplicas}")

		data, err := os.ReadFile(ext)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(wmw, data, 0o600))
		e.ks(t, "ws", "root:wmw1", "--kubeconfig", wmw)
		workload := framework.WriteFile(t, "workload.yaml", `apiVersion: v1
kind: Namespace
metadata: {name: e2e-common}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: edge-app, namespace: e2e-common}
spec:
  selector: {matchLabels: {app: edge-app}}
  template:
    metadata: {labels: {app: edge-app}}
    spec:
      automountServiceAccountToken: false
      containers: [{name: pause, image: localhost/kubestellar/pause:1.0, imagePullPolicy: IfNotPresent}]
---
apiVersion: v1
kind: Namespace
metadata: {name: e2e-solo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: solo-app, namespace: e2e-solo}
spec:
  selector: {matchLabels: {app: solo-app}}
  template:
    metadata: {labels: {app: solo-app}}
    spec:
      automountServiceAccountToken: false
      containers: [{name: pause, image: localhost/kubestellar/pause:1.0, imagePullPolicy: IfNotPresent}]
---
apiVersion: edge.kubestellar.io/v2alpha1
kind: EdgePlacement
metadata: {name: common}
spec:
  locationSelectors: [{matchLabels: {env: prod}}]
  downsync:
  - {apiGroup: apps, resources: [deployments], namespaces: [e2e-common]}
  - {apiGroup: "", resources: [configmaps], namespaces: [e2e-common]}
---
apiVersion: edge.kubestellar.io/v2alpha1
kind: EdgePlacement
metadata: {name: solo}
spec:
  locationSelectors: [{matchLabels: {node: real}}]
  downsync: [{apiGroup: apps, resources: [deployments], namespaces: [e2e-solo]}]
  wantSingletonReportedState: true
`)
		e.k(t, wmw, "apply", "-f", workload)
		e.eventually(t, 3*time.Minute, "edge-app on the node", hasAll("edge-app"), e.kubeconfig, "get", "deployments", "-n", "e2e-common")
		e.eventually(t, 3*time.Minute, "edge-app in guilder", hasAll("edge-app"), guilderKubeconfig, "get", "deployments", "-n", "e2e-common")
		e.eventually(t, 3*time.Minute, "edge-app available on the node", hasAll("1"), e.kubeconfig,
			"get", "deployment", "edge-app", "-n", "e2e-common", "-o", "jsonpath={.status.availableReplicas}")
		out := e.eventually(t, 3*time.Minute, "solo-app's status back in root:wmw1", hasAll("1"), wmw,
			"get", "deployment", "solo-app", "-n", "e2e-solo", "-o", "jsonpath={.status.availableReplicas}")
		assert.Equal(t, "1", strings.TrimSpace(out))
		r, err := e.run(t.Context(), e.kubectl, "--kubeconfig", guilderKubeconfig, "get", "deployment", "solo-app", "-n", "e2e-solo")
		assert.Error(t, err, "solo-app goes to the node only:\n%s", r)
		e.record("workload at the edge", start)
	})

	t.Run("the core's pod is deleted: everything resumes, kubeconfigs still valid", func(t *testing.T) {
		before := e.secretKey(t, ns, "external.kubeconfig")
		start := time.Now()
		e.k(t, e.kubeconfig, "delete", "pod", "-n", ns, "-l", "app.kubernetes.io/instance=kubestellar", "--wait=true")
		e.k(t, e.kubeconfig, "rollout", "status", "deployment/kubestellar", "-n", ns, "--timeout=10m")
		e.eventually(t, 10*time.Minute, "the new pod Ready", hasAll("True"), e.kubeconfig,
			"get", "pods", "-n", ns, "-l", "app.kubernetes.io/instance=kubestellar", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}")
		e.eventually(t, 3*time.Minute, "the same kubeconfig reaching the spaces", hasAll("espw", "wmw1"), ext, "get", "spaces")
		e.record("pod restart → usable", start)
		after := e.secretKey(t, ns, "external.kubeconfig")
		assert.Equal(t, before, after, "the published kubeconfig is not re-minted")
		e.k(t, wmw, "create", "configmap", "after-restart", "-n", "e2e-common", "--from-literal=at=restart")
		e.eventually(t, 3*time.Minute, "a new object reaching the node", hasAll("after-restart"), e.kubeconfig, "get", "configmaps", "-n", "e2e-common")
		e.eventually(t, 3*time.Minute, "a new object reaching guilder", hasAll("after-restart"), guilderKubeconfig, "get", "configmaps", "-n", "e2e-common")
	})

	t.Run("deploy again with changed values: an upgrade, through a Gateway API TLSRoute, no state lost", func(t *testing.T) {
		start := time.Now()
		out := e.ks(t, append([]string{"deploy", "--external-endpoint", e.endpoint, "--timeout", "15m",
			"--set", "verbosity=3", "--set", "exposure.type=tlsroute",
			"--set", "exposure.tlsRoute.gateway.name=traefik", "--set", "exposure.tlsRoute.gateway.namespace=ingress",
			"--set", "exposure.tlsRoute.gateway.sectionName=tls-passthrough"}, e.imageFlags()...)...)
		assert.Contains(t, out, "Upgrading release kubestellar in namespace kubestellar")
		assert.Contains(t, out, "KubeStellar is ready")
		e.record("upgrade → Ready", start)
		_, err := e.run(t.Context(), e.kubectl, "--kubeconfig", e.kubeconfig, "get", "ingress", "kubestellar", "-n", ns)
		assert.Error(t, err, "the Ingress is gone, the TLSRoute carries the traffic")
		e.k(t, e.kubeconfig, "get", "tlsroutes.gateway.networking.k8s.io", "kubestellar", "-n", ns)
		e.eventually(t, 3*time.Minute, "the same kubeconfig through the TLSRoute", hasAll("espw", "wmw1"), ext, "get", "spaces")
		cm := e.k(t, wmw, "get", "configmap", "after-restart", "-n", "e2e-common", "-o", "jsonpath={.data.at}")
		assert.Equal(t, "restart", cm)
		av := e.k(t, e.kubeconfig, "get", "deployment", "edge-app", "-n", "e2e-common", "-o", "jsonpath={.status.availableReplicas}")
		assert.Equal(t, "1", av)
	})

	t.Run("helm delete kubestellar leaves nothing of KubeStellar", func(t *testing.T) {
		// What the user applied for florin's syncer is theirs to remove.
		e.k(t, e.kubeconfig, "delete", "-f", filepath.Join(e.workDir, "florin-syncer.yaml"), "--wait=true")
		start := time.Now()
		e.must(t, e.helm, "--kubeconfig", e.kubeconfig, "delete", "kubestellar", "-n", ns, "--wait", "--timeout", "5m")
		e.eventually(t, 3*time.Minute, "the pod gone", func(out string) bool { return strings.TrimSpace(out) == "" }, e.kubeconfig,
			"get", "pods", "-n", ns, "-o", "name")
		e.record("helm delete → gone", start)
		left := e.k(t, e.kubeconfig, "get", "deployments,replicasets,services,secrets,configmaps,serviceaccounts,roles,rolebindings,persistentvolumeclaims,ingresses,tlsroutes.gateway.networking.k8s.io",
			"-n", ns, "-o", "name")
		var kept []string
		for _, line := range strings.Fields(left) {
			// Every namespace has these.
			if line == "configmap/kube-root-ca.crt" || line == "serviceaccount/default" {
				continue
			}
			kept = append(kept, line)
		}
		assert.Empty(t, kept, "left in namespace %s after helm delete", ns)
		all := e.k(t, e.kubeconfig, "get", "clusterroles,clusterrolebindings", "-o", "name")
		for _, line := range strings.Fields(all) {
			assert.NotContains(t, line, "kubestellar", "cluster-scoped leftovers")
		}
		_, err := e.run(t.Context(), e.helm, "--kubeconfig", e.kubeconfig, "status", "kubestellar", "-n", ns)
		assert.Error(t, err, "the release is gone")
	})

	t.Run("bootstrap-kubestellar.sh deploys into the current cluster and prints the exports", func(t *testing.T) {
		e.statePV(t, "kubestellar-e2e-bootstrap")
		const bns = "ks-bootstrap"
		folder := filepath.Join(e.workDir, "bootstrap")
		args := append([]string{"--endpoint-address", e.endpoint, "--host-ns", bns, "--ensure-folder", folder, "--",
			"--timeout", "15m"}, e.imageFlags()...)
		cmd := exec.CommandContext(t.Context(), filepath.Join(framework.ModuleRoot(t), "bootstrap", "bootstrap-kubestellar.sh"), args...)
		// The commands are on PATH, so nothing is unpacked; the current cluster is the hosting one.
		cmd.Env = append(os.Environ(), "PATH="+e.binDir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+e.kubeconfig)
		cmd.Dir = e.workDir
		var stderr bytes.Buffer
		cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
		start := time.Now()
		stdout, err := cmd.Output()
		require.NoError(t, err, "bootstrap-kubestellar.sh %v:\n%s", args, stderr.String())
		e.record("bootstrap → Ready", start)
		kubeconfig := filepath.Join(folder, "kubestellar.kubeconfig")
		assert.Contains(t, string(stdout), `export KUBECONFIG="`+kubeconfig+`"`)
		assert.Contains(t, string(stdout), `export PATH="`)
		assert.Contains(t, stderr.String(), "KubeStellar is ready")
		e.eventually(t, 2*time.Minute, "spaces through the bootstrap's kubeconfig", hasAll("espw", "imw1", "wmw1"), kubeconfig, "get", "spaces")
		e.must(t, e.helm, "--kubeconfig", e.kubeconfig, "delete", "kubestellar", "-n", bns, "--wait", "--timeout", "5m")
	})
}

func decodeBase64To(t *testing.T, b64, path string) {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, out, 0o600))
}
