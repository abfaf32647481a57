package recipes

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/kubestellar/kubestellar/test/framework"
)

// TestRecipesSyncer runs the documents' recipes for registering a syncer (syncer-gen run in
// the mailbox) and for listing what travels through the mailboxes.
func TestRecipesSyncer(t *testing.T) {
	c := sharedCore(t)

	t.Run("syncer-gen in the mailbox writes a manifest whose deployment the printed hint finds", func(t *testing.T) {
		u := c.newUser(t)
		u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ws create imw-sg --enter
kubectl kubestellar ensure location guilder sg=guilder
`)
		out := u.ok(`
kubectl kubestellar ws root:imw-sg
kubectl get SyncTargets
kubectl get synctargets.edge.kubestellar.io
kubectl describe synctargets.edge.kubestellar.io guilder
#kubectl describe Synctarget guilder
mbws=` + "`" + `kubectl get synctargets.edge.kubestellar.io guilder -o jsonpath="{.metadata.annotations['kcp\.io/cluster']}-mb-{.metadata.uid}"` + "`" + `
echo "mailbox workspace name = $mbws"
`)
		m := regexp.MustCompile(`mailbox workspace name = (\S+-mb-\S+)\n`).FindStringSubmatch(out)
		require.NotNil(t, m, out)
		mbws := m[1]
		// The mailbox controller makes the mailbox soon after the SyncTarget.
		framework.Eventually(t, time.Minute, "the mailbox exists", func() bool {
			return u.sh("kubectl --context base get --raw /clusters/root:espw/api/v1/namespaces/"+mbws+" >/dev/null").Err == nil
		})

		// bin/ is where the documents run the plugin from.
		u.ok(`ln -s "$(dirname "$(command -v kubectl-kubestellar)")" bin`)
		out = u.ok("mbws=" + mbws + `
kubectl kubestellar ws root:$mbws
./bin/kubectl-kubestellar-syncer_gen guilder --syncer-image quay.io/kubestellar/syncer:v0.2.2 -o guilder-syncer.yaml
`)
		assert.Contains(t, out, `Creating service account "kubestellar-syncer-guilder" in mailbox "`+mbws+`"`)
		assert.Contains(t, out, `Creating or updating role binding "kubestellar-syncer-guilder"`)
		m = regexp.MustCompile(`Wrote the WEC manifest for namespace "(kubestellar-syncer-guilder-[a-z0-9]{8})" to guilder-syncer.yaml`).FindStringSubmatch(out)
		require.NotNil(t, m, out)
		ns := m[1]
		assert.Contains(t, out, "  KUBECONFIG=<workload-execution-cluster-config> kubectl apply -f guilder-syncer.yaml\n")
		hint := "kubectl get deployment -n " + ns + " " + ns
		assert.True(t, strings.HasSuffix(out, "  KUBECONFIG=<workload-execution-cluster-config> "+hint+"\n"), out)
		assert.Equal(t, ns, deploymentName(t, filepath.Join(u.home, "guilder-syncer.yaml")))

		// A space stands in for the workload execution cluster: the manifest applies there
		// and the printed command finds the syncer's Deployment.
		out = u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ws create wec-sg
wec=$(kubectl get space wec-sg -o jsonpath={.status.url})
kubectl --server "$wec" apply -f guilder-syncer.yaml
kubectl --server "$wec" ` + strings.TrimPrefix(hint, "kubectl ") + ` -o name
`)
		assert.Contains(t, out, "deployment.apps/"+ns+" created\n")
		assert.True(t, strings.HasSuffix(out, "deployment.apps/"+ns+"\n"), out)
	})

	t.Run("list-syncing-objects works with the kubeconfig kubestellar start writes", func(t *testing.T) {
		u := c.newUser(t)
		u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ws create imw-ls --enter
kubectl kubestellar ensure location ls-cluster ls=yes
kubectl kubestellar ws root
kubectl kubestellar ensure wmw wmw-ls
kubectl create namespace ls-demo
kubectl apply -f - <<EOF
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: ls-rs, namespace: ls-demo}
spec:
  replicas: 1
  selector: {matchLabels: {app: ls}}
  template:
    metadata: {labels: {app: ls}}
    spec: {containers: [{name: c, image: registry.example/app:1}]}
---
apiVersion: edge.kubestellar.io/v2alpha1
kind: EdgePlacement
metadata: {name: ls-place}
spec:
  locationSelectors: [{matchLabels: {ls: "yes"}}]
  downsync:
  - apiGroup: apps
    resources: [replicasets]
    namespaces: [ls-demo]
EOF
`)
		var out string
		framework.Eventually(t, time.Minute, "the ReplicaSet is in the mailbox", func() bool {
			out = u.ok(`kubestellar-list-syncing-objects --api-group apps --api-kind ReplicaSet`)
			return strings.Contains(out, "name: ls-rs\n")
		})
		assert.True(t, strings.HasPrefix(out, "---\napiVersion: apps/v1\nkind: ReplicaSet\n"), out)
		assert.NotContains(t, u.ok(`kubestellar-list-syncing-objects --api-group apps --api-kind ReplicaSet --api-resource deployments`), "ls-rs")
		assert.Contains(t, u.ok(`kubestellar-list-syncing-objects --api-group apps --api-kind ReplicaSet --json | grep ls-rs`), `"kind":"ReplicaSet"`)
	})
}

// deploymentName returns the name of the Deployment in a manifest file.
func deploymentName(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	for _, doc := range strings.Split(string(data), "---\n") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
		if obj.Kind == "Deployment" {
			return obj.Metadata.Name
		}
	}
	t.Fatal("no Deployment in " + file)
	return ""
}
