// Package cli runs the command-line tools, as a user does, against a real space server.
package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kubestellar/kubestellar/pkg/apis"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/test/framework"
)

type cli struct {
	t          *testing.T
	bin, dir   string
	kubeconfig string
}

// in returns the helper for a subtest.
func (c *cli) in(t *testing.T) *cli {
	cc := *c
	cc.t = t
	return &cc
}

// run runs a command with the test's kubeconfig, in the test's directory.
func (c *cli) run(name string, args ...string) framework.Result {
	c.t.Helper()
	flag := "--kubeconfig"
	if name == "kubestellar-list-syncing-objects" {
		flag = "--parent-kubeconfig"
	}
	return framework.Run(c.t.Context(), c.dir, filepath.Join(c.bin, name), append(args, flag, c.kubeconfig)...)
}

func (c *cli) ok(name string, args ...string) string {
	c.t.Helper()
	r := c.run(name, args...)
	require.NoError(c.t, r.Err, "%s %v\n%s%s", name, args, r.Stdout, r.Stderr)
	return r.Stdout
}

func (c *cli) fails(want, name string, args ...string) framework.Result {
	c.t.Helper()
	r := c.run(name, args...)
	require.Error(c.t, r.Err, "%s %v should fail", name, args)
	assert.Contains(c.t, r.Stderr, want, "%s %v", name, args)
	return r
}

func TestCommands(t *testing.T) {
	bin := framework.BuildCommands(t, "kubectl-kubestellar", "kubestellar", "kubestellar-list-syncing-objects", "kubectl-kubestellar-syncer_gen")
	srv := framework.StartSpaceServer(t)
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	data, err := os.ReadFile(srv.Kubeconfig)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(kc, data, 0o600))
	c := &cli{t: t, bin: bin, dir: dir, kubeconfig: kc}
	ctx := t.Context()

	t.Run("kubestellar init ensures the spaces, twice alike", func(t *testing.T) {
		c := c.in(t)
		out := c.ok("kubestellar", "init", "--local-kcp=false", "--ensure-wmw", "root:wmw1,root:wmw2")
		assert.Contains(t, out, "The core space root:espw is created")
		assert.Contains(t, out, "The inventory management space root:imw1 is created")
		assert.Contains(t, out, "The workload management space root:wmw2 is created")
		out = c.ok("kubestellar", "init", "--local-kcp=false", "--ensure-wmw", "root:wmw1,root:wmw2")
		assert.Contains(t, out, "The core space root:espw is Ready")
		assert.NotContains(t, out, "created")
		c.fails(`--ensure-imw: "imw1" is not a space path such as root:imw1`, "kubestellar", "init", "--local-kcp=false", "--ensure-imw", "imw1")
	})

	mailboxes := framework.StartController(t, srv, "mailbox-controller", framework.SetupFunc(mailbox.Setup, mailbox.Options{ESPWPath: "root:espw", Concurrency: 4}))
	framework.StartController(t, srv, "kubestellar-where-resolver", framework.SetupFunc(where.Setup, where.Options{Concurrency: 4}))
	framework.StartController(t, srv, "placement-translator", framework.SetupFunc(placement.Setup, placement.Options{ESPWPath: "root:espw", Concurrency: 4}))
	imw := srv.Client("root:imw1")

	t.Run("ensure location, twice alike", func(t *testing.T) {
		c := c.in(t)
		// --imw takes a name under root; the command ends in the inventory space.
		out := c.ok("kubectl-kubestellar", "ensure", "location", "--imw", "imw1", "florin", "env=prod", "region=eu")
		assert.Equal(t, "Current workspace is \"root:imw1\".\nsynctarget.edge.kubestellar.io \"florin\" created\nlocation.edge.kubestellar.io \"florin\" created\n", out)
		// Without --imw, the current space is the inventory space.
		out = c.ok("kubectl-kubestellar", "ensure", "location", "florin", "env=prod", "region=eu")
		assert.Equal(t, "Current workspace is \"root:imw1\".\nsynctarget.edge.kubestellar.io \"florin\" unchanged\nlocation.edge.kubestellar.io \"florin\" unchanged\n", out)
		st := &edgev2alpha1.SyncTarget{}
		require.NoError(t, imw.Get(ctx, client.ObjectKey{Name: "florin"}, st))
		assert.Equal(t, map[string]string{"id": "florin", "env": "prod", "region": "eu"}, st.Labels)
		assert.Equal(t, srv.WaitSpaceReady("imw1").Status.Cluster, st.Annotations[mailbox.AnnotationSpaceID], "the SyncTarget names its space's ID")
		loc := &edgev2alpha1.Location{}
		require.NoError(t, imw.Get(ctx, client.ObjectKey{Name: "florin"}, loc))
		assert.Equal(t, map[string]string{"env": "prod", "region": "eu"}, loc.Labels)
		assert.Equal(t, map[string]string{"id": "florin"}, loc.Spec.InstanceSelector.MatchLabels)

		// A Location named default is removed.
		require.NoError(t, imw.Create(ctx, &edgev2alpha1.Location{ObjectMeta: metav1.ObjectMeta{Name: "default"},
			Spec: edgev2alpha1.LocationSpec{Resource: loc.Spec.Resource, InstanceSelector: &metav1.LabelSelector{}}}))
		out = c.ok("kubectl-kubestellar", "ensure", "location", "florin", "env=prod", "region=eu")
		assert.Contains(t, out, `location.edge.kubestellar.io "default" deleted`)
	})

	t.Run("ensure location refuses what it must", func(t *testing.T) {
		c := c.in(t)
		c.fails(`the name "default" is reserved`, "kubectl-kubestellar", "ensure", "location", "default")
		c.fails(`label key "id" is reserved`, "kubectl-kubestellar", "ensure", "location", "x", "id=3")
		c.fails(`label "env" must be key=value`, "kubectl-kubestellar", "ensure", "location", "x", "env")
		c.fails(`the inventory management space root:imw9 does not exist; create it with`, "kubectl-kubestellar", "ensure", "location", "--imw", "root:imw9", "x")
		c.fails(`--imw root:espw: that is not an inventory management space`, "kubectl-kubestellar", "ensure", "location", "--imw", "root:espw", "x")
		c.fails(`--imw "a:b": space path "a:b" must be`, "kubectl-kubestellar", "ensure", "location", "--imw", "a:b", "x")
		c.ok("kubectl-kubestellar", "ws", "root")
		c.fails("the current space root is not an inventory management space: name the inventory management space with --imw", "kubectl-kubestellar", "ensure", "location", "x")
		c.fails("the current space root is not an inventory management space", "kubectl-kubestellar", "remove", "location", "x")
		c.fails("the current space root is not an inventory management space", "kubectl-kubestellar", "prep-for-syncer", "x")
		c.fails("the current space root is not an inventory management space", "kubectl-kubestellar", "prep-for-cluster", "x")
		r := c.fails(`unknown flag: --bogus`, "kubectl-kubestellar", "ensure", "location", "--bogus", "x")
		assert.Contains(t, r.Stdout+r.Stderr, "Usage:", "a bad flag shows the usage")
		c.fails(`requires at least 1 arg(s)`, "kubectl-kubestellar", "ensure", "location")
	})

	t.Run("remove location, twice", func(t *testing.T) {
		c := c.in(t)
		c.ok("kubectl-kubestellar", "ensure", "location", "--imw", "root:imw1", "ruble", "env=test")
		assert.Contains(t, c.ok("kubectl-kubestellar", "remove", "location", "ruble"), `synctarget.edge.kubestellar.io "ruble" deleted`)
		assert.Contains(t, c.ok("kubectl-kubestellar", "remove", "location", "ruble", "--imw", "imw1"), `synctarget.edge.kubestellar.io "ruble" was not there`)
	})

	t.Run("ensure and remove wmw, twice each", func(t *testing.T) {
		c := c.in(t)
		c.ok("kubectl-kubestellar", "ws", "root")
		// ensure wmw ends in the new space.
		assert.Equal(t, "space \"root:wmw3\" created\nCurrent workspace is \"root:wmw3\".\n", c.ok("kubectl-kubestellar", "ensure", "wmw", "wmw3"))
		assert.Equal(t, "Current workspace is \"root:wmw3\".\n", c.ok("kubectl-kubestellar", "ws", "."))
		c.ok("kubectl-kubestellar", "ws", "..")
		assert.Equal(t, "space \"root:wmw3\" unchanged\nCurrent workspace is \"root:wmw3\".\n", c.ok("kubectl-kubestellar", "ensure", "wmw", "wmw3"))
		// It serves the KubeStellar API.
		require.NoError(t, srv.Client("root:wmw3").List(ctx, &edgev2alpha1.EdgePlacementList{}))
		// Removing the current space leaves the context in root, not in a space that is gone.
		assert.Equal(t, "space \"root:wmw3\" deleted\nCurrent workspace is \"root\".\n", c.ok("kubectl-kubestellar", "remove", "wmw", "wmw3"))
		assert.Equal(t, "space \"root:wmw3\" was not there\n", c.ok("kubectl-kubestellar", "remove", "wmw", "wmw3"))
		c.fails(`must be a DNS label`, "kubectl-kubestellar", "ensure", "wmw", "Bad_Name")
	})

	t.Run("ws shows and changes the current space; other commands leave it alone", func(t *testing.T) {
		c := c.in(t)
		assert.Equal(t, "Current workspace is \"root\".\n", c.ok("kubectl-kubestellar", "ws"))
		assert.Equal(t, "Current workspace is \"root:imw1\".\n", c.ok("kubectl-kubestellar", "ws", "imw1"))
		cfg, err := clientcmd.LoadFromFile(kc)
		require.NoError(t, err)
		assert.True(t, strings.HasSuffix(cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].Server, "/clusters/root:imw1"))
		c.ok("kubectl-kubestellar", "ensure", "location", "guilder", "env=prod", "extended=yes")
		assert.Equal(t, "Current workspace is \"root:imw1\".\n", c.ok("kubectl-kubestellar", "ws", "."), "ensure location stays in the current space")
		assert.Equal(t, "Current workspace is \"root\".\n", c.ok("kubectl-kubestellar", "ws", ".."))
		assert.Equal(t, "Current workspace is \"root:imw1\".\n", c.ok("kubectl-kubestellar", "ws", "-"))
		assert.Equal(t, "Current workspace is \"root\".\n", c.ok("kubectl-kubestellar", "ws", "-"))
		c.fails(`space "root" has no parent`, "kubectl-kubestellar", "ws", "..")
		c.fails(`space root:nope: no such space`, "kubectl-kubestellar", "ws", "nope")

		// The tree shows the mailboxes under the core space.
		id := srv.WaitSpaceReady("imw1").Status.Cluster
		var boxes []string
		for _, name := range []string{"florin", "guilder"} {
			st := &edgev2alpha1.SyncTarget{}
			require.NoError(t, imw.Get(ctx, client.ObjectKey{Name: name}, st))
			boxes = append(boxes, mailbox.Name(id, st.UID))
		}
		sort.Strings(boxes)
		want := ".\n└── root\n    ├── espw\n    │   ├── " + boxes[0] + "\n    │   └── " + boxes[1] + "\n    ├── imw1\n    ├── wmw1\n    └── wmw2\n"
		var tree string
		framework.Eventually(t, time.Minute, "both mailboxes in the tree", func() bool {
			tree = c.ok("kubectl-kubestellar", "ws", "tree")
			return tree == want
		})
		assert.Equal(t, want, tree)
	})

	t.Run("prep-for-syncer writes a manifest whose credentials reach only the mailbox", func(t *testing.T) {
		c := c.in(t)
		r := c.run("kubectl-kubestellar", "prep-for-syncer", "--imw", "root:imw1", "florin", "--syncer-image", "registry.example/syncer:1")
		require.NoError(t, r.Err, r.Stderr)
		assert.Equal(t, "Current workspace is \"root\".\n", c.ok("kubectl-kubestellar", "ws", "."), "prep-for-syncer keeps the current space")
		out := r.Stdout
		assertSyncerSteps(t, out, "kubestellar-syncer-florin", "florin-syncer.yaml")
		assert.Contains(t, r.Stderr, "a loopback address", "the test server listens on 127.0.0.1")
		assert.Contains(t, r.Stderr, "kubestellar start --external-hostname")
		file := filepath.Join(dir, "florin-syncer.yaml")
		info, err := os.Stat(file)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the manifest holds a token")
		objs := readManifest(t, file)
		var kinds []string
		var upstream string
		for _, o := range objs {
			kinds = append(kinds, o["kind"].(string))
			if o["kind"] == "Secret" {
				upstream = o["stringData"].(map[string]any)["kubeconfig"].(string)
			}
		}
		assert.Equal(t, []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret", "Deployment"}, kinds)
		ns := objs[0]["metadata"].(map[string]any)["name"].(string)
		assert.Equal(t, ns, objs[5]["metadata"].(map[string]any)["name"], "the Deployment is named like its namespace")
		assert.Contains(t, out, "kubectl get deployment -n "+ns+" "+ns+"\n")

		cfg, err := clientcmd.Load([]byte(upstream))
		require.NoError(t, err)
		kctx := cfg.Contexts[cfg.CurrentContext]
		cluster := cfg.Clusters[kctx.Cluster]
		assert.False(t, cluster.InsecureSkipTLSVerify)
		assert.NotEmpty(t, cluster.CertificateAuthorityData)
		box := kctx.Namespace
		st := &edgev2alpha1.SyncTarget{}
		require.NoError(t, imw.Get(ctx, client.ObjectKey{Name: "florin"}, st))
		assert.Equal(t, mailbox.Name(srv.WaitSpaceReady("imw1").Status.Cluster, st.UID), box)

		// The token reaches the mailbox's wrappers, and not another namespace's.
		rc, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
		require.NoError(t, err)
		synced, err := client.New(rc, client.Options{Scheme: srvScheme()})
		require.NoError(t, err)
		require.NoError(t, synced.List(ctx, &edgev2alpha1.WrappedObjectList{}, client.InNamespace(box)))
		err = synced.List(ctx, &corev1.SecretList{}, client.InNamespace("kube-system"))
		assert.Error(t, err, "the syncer's token must not reach beyond its mailbox")

		// Again: the same mailbox access, a fresh manifest.
		assert.Empty(t, c.ok("kubectl-kubestellar", "prep-for-syncer", "florin", "--imw", "imw1", "--syncer-image", "registry.example/syncer:1", "-o", "again.yaml", "-s"))
		assert.FileExists(t, filepath.Join(dir, "again.yaml"))
	})

	t.Run("prep-for-syncer explains a mailbox that never appears", func(t *testing.T) {
		c := c.in(t)
		mailboxes.Stop()
		defer mailboxes.Start()
		c.ok("kubectl-kubestellar", "ensure", "location", "--imw", "root:imw1", "peso", "env=dev")
		c.fails("did not appear within 3s; is the mailbox controller running", "kubectl-kubestellar", "prep-for-syncer", "peso", "--timeout", "3s")
		c.fails(`SyncTarget nosuch in root:imw1: synctargets.edge.kubestellar.io "nosuch" not found`, "kubectl-kubestellar", "prep-for-syncer", "nosuch")
	})

	t.Run("prep-for-cluster and syncer-gen", func(t *testing.T) {
		c := c.in(t)
		c.ok("kubectl-kubestellar", "ws", "root")
		out := c.ok("kubectl-kubestellar", "prep-for-cluster", "--imw", "imw1", "dollar", "env=prod", "--syncer-image", "registry.example/syncer:1", "-o", "dollar.yaml")
		assert.Equal(t, "Current workspace is \"root\".\n", c.ok("kubectl-kubestellar", "ws", "."), "prep-for-cluster keeps the current space")
		assert.Contains(t, out, `synctarget.edge.kubestellar.io "dollar" created`)
		assert.Contains(t, out, "kubectl apply -f dollar.yaml")
		box := upstreamNamespace(t, filepath.Join(dir, "dollar.yaml"))
		c.ok("kubectl-kubestellar", "ws", "root:espw")
		out = c.ok("kubectl-kubestellar", "syncer-gen", "dollar", "-n", box, "--syncer-image", "registry.example/syncer:1", "-o", "gen.yaml")
		assert.Contains(t, out, "kubectl apply -f gen.yaml")
		assert.Equal(t, box, upstreamNamespace(t, filepath.Join(dir, "gen.yaml")))
		c.fails(`namespace "default" is not a mailbox`, "kubectl-kubestellar", "syncer-gen", "dollar", "-n", "default")

		// In the mailbox (the core space, the mailbox as the context's namespace), the plugin
		// kubectl-kubestellar-syncer_gen needs no -n.
		setNamespace(t, kc, box)
		r := c.run("kubectl-kubestellar-syncer_gen", "dollar", "--syncer-image", "registry.example/syncer:1", "-o", "dollar-gen.yaml")
		require.NoError(t, r.Err, r.Stderr)
		assertSyncerSteps(t, r.Stdout, "kubestellar-syncer-dollar", "dollar-gen.yaml")
		assert.Contains(t, r.Stderr, "a loopback address")
		assert.Equal(t, box, upstreamNamespace(t, filepath.Join(dir, "dollar-gen.yaml")))
		var uid string
		for _, o := range readManifest(t, filepath.Join(dir, "dollar-gen.yaml")) {
			if o["kind"] == "Deployment" {
				assert.Equal(t, o["metadata"].(map[string]any)["namespace"], o["metadata"].(map[string]any)["name"])
				args := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["args"].([]any)
				for _, a := range args {
					if v, ok := strings.CutPrefix(a.(string), "--sync-target-uid="); ok {
						uid = v
					}
				}
			}
		}
		st := &edgev2alpha1.SyncTarget{}
		require.NoError(t, imw.Get(ctx, client.ObjectKey{Name: "dollar"}, st))
		assert.Equal(t, string(st.UID), uid, "the SyncTarget's UID comes from the mailbox's name")
		c.fails(`belongs to SyncTarget "dollar", not "florin"`, "kubectl-kubestellar-syncer_gen", "florin", "--syncer-image", "registry.example/syncer:1")
		r = c.fails(`unknown flag: --bogus`, "kubectl-kubestellar-syncer_gen", "dollar", "--bogus")
		assert.Contains(t, r.Stdout+r.Stderr, "Usage:")
		setNamespace(t, kc, "")
		c.ok("kubectl-kubestellar", "ws", "root")
	})

	t.Run("list-syncing-objects lists and watches unwrapped objects", func(t *testing.T) {
		c := c.in(t)
		wmw := srv.Client("root:wmw1")
		require.NoError(t, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}))
		require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "demo"}, Data: map[string]string{"a": "b"}}))
		require.NoError(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Name: "demo"}, Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"extended": "yes"}}},
			Downsync:          []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"demo"}}},
		}}))
		var out string
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			out = c.ok("kubestellar-list-syncing-objects", "--api-kind", "ConfigMap", "--json")
			return strings.Contains(out, `"name":"hello"`), nil
		})
		require.NoError(t, err, out)
		assert.Equal(t, `{"apiVersion":"v1","data":{"a":"b"},"kind":"ConfigMap","metadata":{"name":"hello","namespace":"demo"}}`+"\n", out)
		yamlOut := c.ok("kubestellar-list-syncing-objects", "--api-kind", "ConfigMap")
		assert.True(t, strings.HasPrefix(yamlOut, "---\napiVersion: v1\n"), yamlOut)

		// --api-resource selects too.
		assert.Equal(t, out, c.ok("kubestellar-list-syncing-objects", "--api-kind", "ConfigMap", "--api-resource", "configmaps", "--json"))
		assert.Empty(t, c.ok("kubestellar-list-syncing-objects", "--api-kind", "ConfigMap", "--api-resource", "widgets", "--json"))

		// The status the syncer reports in the wrapper is the object's status.
		espw := srv.Client("root:espw")
		wrappers := &edgev2alpha1.WrappedObjectList{}
		require.NoError(t, espw.List(ctx, wrappers))
		reported := false
		for i := range wrappers.Items {
			w := &wrappers.Items[i]
			if !strings.Contains(string(w.Spec.Object.Raw), `"hello"`) {
				continue
			}
			w.Status.ReportedState = &edgev2alpha1.ReportedState{Status: &runtime.RawExtension{Raw: []byte(`{"seen":"at the edge"}`)}, ObservedGeneration: 1}
			require.NoError(t, espw.Status().Update(ctx, w))
			reported = true
		}
		require.True(t, reported)
		assert.Equal(t, `{"apiVersion":"v1","data":{"a":"b"},"kind":"ConfigMap","metadata":{"name":"hello","namespace":"demo"},"status":{"seen":"at the edge"}}`+"\n",
			c.ok("kubestellar-list-syncing-objects", "--api-kind", "ConfigMap", "--json"))

		// With no flags, the contexts of the kubeconfig kubestellar start writes are used, whatever
		// the current context is.
		elsewhere := filepath.Join(dir, "elsewhere.kubeconfig")
		cfg, err := clientcmd.LoadFromFile(kc)
		require.NoError(t, err)
		cfg.Clusters["wec"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
		cfg.Contexts["wec"] = &clientcmdapi.Context{Cluster: "wec", AuthInfo: cfg.Contexts["root"].AuthInfo}
		cfg.CurrentContext = "wec"
		require.NoError(t, clientcmd.WriteToFile(*cfg, elsewhere))
		list := exec.CommandContext(ctx, filepath.Join(bin, "kubestellar-list-syncing-objects"), "--api-kind", "ConfigMap", "--json")
		list.Env = append(os.Environ(), "KUBECONFIG="+elsewhere)
		listed, err := list.CombinedOutput()
		require.NoError(t, err, "%s", listed)
		assert.Contains(t, string(listed), `"name":"hello"`)
		c.fails(`context was not found for specified context: nosuch`, "kubestellar-list-syncing-objects", "--api-kind", "ConfigMap", "--all-context", "nosuch")

		watchCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		r := make(chan framework.Result, 1)
		go func() {
			r <- framework.Run(watchCtx, dir, filepath.Join(bin, "kubestellar-list-syncing-objects"), "--api-kind", "ConfigMap", "--json", "--watch", "--parent-kubeconfig", kc)
		}()
		time.Sleep(3 * time.Second)
		require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hello2", Namespace: "demo"}}))
		time.Sleep(5 * time.Second)
		cancel()
		got := <-r
		assert.Contains(t, got.Stdout, `{"Action":"add","apiVersion":"v1","data":{"a":"b"},"kind":"ConfigMap","metadata":{"name":"hello","namespace":"demo"},"status":{"seen":"at the edge"}}`)
		assert.Contains(t, got.Stdout, `"Action":"add","apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"hello2","namespace":"demo"}}`)
		c.fails("--api-kind is required", "kubestellar-list-syncing-objects")
	})

	t.Run("an unreachable server is named", func(t *testing.T) {
		bad := filepath.Join(dir, "unreachable")
		cfg, err := clientcmd.LoadFromFile(kc)
		require.NoError(t, err)
		for _, cl := range cfg.Clusters {
			cl.Server = strings.Replace(cl.Server, "127.0.0.1:", "127.0.0.1:1", 1)
			cl.Server = strings.Replace(cl.Server, "localhost:", "localhost:1", 1)
		}
		require.NoError(t, clientcmd.WriteToFile(*cfg, bad))
		r := framework.Run(ctx, dir, filepath.Join(bin, "kubectl-kubestellar"), "ensure", "location", "x", "--imw", "imw1", "--kubeconfig", bad, "--request-timeout", "5s")
		require.Error(t, r.Err)
		assert.Regexp(t, `connection refused|dial tcp|invalid port`, r.Stderr)
		r = framework.Run(ctx, dir, filepath.Join(bin, "kubestellar"), "init", "--local-kcp=false", "--kubeconfig", bad, "--timeout", "3s")
		require.Error(t, r.Err)
		assert.Contains(t, r.Stderr, "did not answer within 3s")
	})

}

func readManifest(t *testing.T, file string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var out []map[string]any
	for _, doc := range strings.Split(string(data), "\n---\n") {
		doc = strings.TrimPrefix(doc, "---\n")
		if strings.TrimSpace(doc) == "" {
			continue
		}
		m := map[string]any{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &m))
		out = append(out, m)
	}
	return out
}

// assertSyncerSteps checks what prep-for-syncer and syncer-gen say, in order: the mailbox
// access made for the syncer, the manifest written, how to apply it and how to check it.
func assertSyncerSteps(t *testing.T, out, account, file string) {
	t.Helper()
	assert.Regexp(t, `(?s)Creating service account "`+account+`" in mailbox "[^"]+-mb-[^"]+"\n`+
		`Creating role "`+account+`" to give service account "`+account+`".*`+
		`Creating or updating role binding "`+account+`" to bind service account "`+account+`" to role "`+account+`"\.\n.*`+
		`Wrote the WEC manifest for namespace "(kubestellar-syncer-[a-z]+-[a-z0-9]{8})" to `+file+`\..*`+
		`  KUBECONFIG=<workload-execution-cluster-config> kubectl apply -f `+file+`\n.*`+
		`  KUBECONFIG=<workload-execution-cluster-config> kubectl get deployment -n (kubestellar-syncer-[a-z]+-[a-z0-9]{8}) kubestellar-syncer-[a-z]+-[a-z0-9]{8}\n$`, out)
}

// setNamespace sets the namespace of the kubeconfig's current context.
func setNamespace(t *testing.T, kubeconfig, namespace string) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	require.NoError(t, err)
	cfg.Contexts[cfg.CurrentContext].Namespace = namespace
	require.NoError(t, clientcmd.WriteToFile(*cfg, kubeconfig))
}

func upstreamNamespace(t *testing.T, file string) string {
	t.Helper()
	for _, o := range readManifest(t, file) {
		if o["kind"] == "Secret" {
			cfg, err := clientcmd.Load([]byte(o["stringData"].(map[string]any)["kubeconfig"].(string)))
			require.NoError(t, err)
			return cfg.Contexts[cfg.CurrentContext].Namespace
		}
	}
	t.Fatal("no Secret in the manifest")
	return ""
}

func srvScheme() *runtime.Scheme { return apis.NewScheme() }
