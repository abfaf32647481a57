package spaces

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

// TestTwoReplicas runs two space servers on one etcd and one PKI, each serving its own
// spaces, and uses every space through either one's endpoint, as clients behind one Service
// would.
func TestTwoReplicas(t *testing.T) {
	etcdURL := framework.StartEtcd(t, filepath.Join(framework.TempDir(t), "etcd"))
	bPort, err := kubeapiserver.FreePort("127.0.0.1")
	require.NoError(t, err)
	a := framework.StartSpaceServer(t, func(o *server.Options) {
		o.EtcdServers = []string{etcdURL}
		o.Replica = "a"
		o.Peers = map[string]string{"b": "https://127.0.0.1:" + strconv.Itoa(bPort)}
	})
	b := framework.StartSpaceServer(t, func(o *server.Options) {
		o.EtcdServers = []string{etcdURL}
		o.Replica, o.RootReplica = "b", "a"
		o.Peers = map[string]string{"a": a.BaseURL()}
		o.SecurePort = bPort
		// The replicas share the PKI: one CA, so that every kubeconfig works with either.
		require.NoError(t, os.CopyFS(filepath.Join(o.RootDir, "pki"), os.DirFS(filepath.Join(a.Options.RootDir, "pki"))))
	})
	ctx := t.Context()
	servers := map[string]*framework.SpaceServer{"a": a, "b": b}

	root := a.Client(spaces.RootPath)
	east := &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: "east"}}
	west := &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: "west", Labels: map[string]string{spacev1alpha1.LabelReplica: "b"}}}
	require.NoError(t, root.Create(ctx, east))
	// Spaces are made through either endpoint.
	require.NoError(t, b.Client(spaces.RootPath).Create(ctx, west))
	east, west = a.WaitSpaceReady("east"), a.WaitSpaceReady("west")

	t.Run("each replica runs the API servers of its own spaces alone", func(t *testing.T) {
		for space, owner := range map[*spacev1alpha1.Space]string{east: "a", west: "b"} {
			for name, srv := range servers {
				procs := framework.ProcessesMatching(filepath.Join(srv.Options.RootDir, "spaces", space.Status.Cluster), "kube-apiserver")
				if name == owner {
					assert.NotEmpty(t, procs, "replica %s serves %s", name, space.Name)
				} else {
					assert.Empty(t, procs, "replica %s does not serve %s", name, space.Name)
				}
			}
		}
	})

	t.Run("every space answers through either endpoint, with the same objects", func(t *testing.T) {
		for _, space := range []string{"east", "west"} {
			path := spaces.ChildPath(space)
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "made-through-a"}}
			require.NoError(t, a.Client(path).Create(ctx, cm))
			got := &corev1.ConfigMap{}
			require.NoError(t, b.Client(path).Get(ctx, client.ObjectKeyFromObject(cm), got))
			assert.Equal(t, cm.UID, got.UID, "%s: the object made through a, read through b", space)

			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "made-through-b"}}
			require.NoError(t, b.Client(path).Create(ctx, cm))
			require.NoError(t, a.Client(path).Get(ctx, client.ObjectKeyFromObject(cm), got))
			assert.Equal(t, cm.UID, got.UID, "%s: the object made through b, read through a", space)
		}
	})

	t.Run("a watch streams through both replicas", func(t *testing.T) {
		cs := kubernetes.NewForConfigOrDie(a.Config("root:west"))
		w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=watched"})
		require.NoError(t, err)
		defer w.Stop()
		require.NoError(t, b.Client("root:west").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "watched"}}))
		select {
		case ev := <-w.ResultChan():
			assert.Equal(t, "ADDED", string(ev.Type))
		case <-time.After(30 * time.Second):
			t.Fatal("no event within 30 s")
		}
	})

	t.Run("identities pass through both replicas, and spoofed ones do not", func(t *testing.T) {
		for name, srv := range servers {
			assert.Equal(t, server.AdminUser, whoami(t, srv.Config("root:west")).Username, "admin through %s", name)
			assert.Equal(t, server.AdminUser, whoami(t, srv.Config("root:east")).Username, "admin through %s", name)

			component := componentConfig(t, srv, server.ComponentMailboxController, "root:west")
			component.WrapTransport = spoofIdentity
			assert.Equal(t, server.ComponentUser(server.ComponentMailboxController), whoami(t, component).Username,
				"a certificate's identity through %s, whatever headers it sends", name)
		}

		admin := kubernetes.NewForConfigOrDie(b.Config("root:west"))
		_, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{})
		require.NoError(t, err)
		tr, err := admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "reader",
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		require.NoError(t, err)
		viaA := rest.AnonymousClientConfig(a.Config("root:west"))
		viaA.BearerToken = tr.Status.Token
		assert.Equal(t, "system:serviceaccount:default:reader", whoami(t, viaA).Username, "a token through a, judged by west's API server on b")
		viaA.WrapTransport = spoofIdentity
		assert.Equal(t, "system:serviceaccount:default:reader", whoami(t, viaA).Username)
	})

	t.Run("a Space naming no replica says so", func(t *testing.T) {
		lost := &spacev1alpha1.Space{ObjectMeta: metav1.ObjectMeta{Name: "lost", Labels: map[string]string{spacev1alpha1.LabelReplica: "c"}}}
		require.NoError(t, root.Create(ctx, lost))
		framework.Eventually(t, time.Minute, "the Space's Ready condition names the label", func() bool {
			if err := root.Get(ctx, client.ObjectKeyFromObject(lost), lost); err != nil {
				return false
			}
			cond := meta.FindStatusCondition(lost.Status.Conditions, "Ready")
			return cond != nil && cond.Reason == "UnknownReplica"
		})
		cond := meta.FindStatusCondition(lost.Status.Conditions, "Ready")
		assert.Contains(t, cond.Message, "label space.kubestellar.io/replica=c names no space server replica")
		_, err := kubernetes.NewForConfigOrDie(a.Config("root:lost")).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		assert.True(t, apierrors.IsServiceUnavailable(err), "requests for it say why: %v", err)
		require.NoError(t, root.Delete(ctx, lost))
	})

	t.Run("deleting a Space through the other replica removes it", func(t *testing.T) {
		require.NoError(t, root.Delete(ctx, west))
		framework.Eventually(t, 2*time.Minute, "west and its API server are gone", func() bool {
			err := root.Get(ctx, client.ObjectKeyFromObject(west), &spacev1alpha1.Space{})
			return apierrors.IsNotFound(err) &&
				len(framework.ProcessesMatching(filepath.Join(b.Options.RootDir, "spaces", west.Status.Cluster), "kube-apiserver")) == 0
		})
		_, err := kubernetes.NewForConfigOrDie(b.Config("root:west")).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		assert.True(t, apierrors.IsNotFound(err), "want 404 through b, got %v", err)
		_, err = kubernetes.NewForConfigOrDie(a.Config("root:west")).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		assert.True(t, apierrors.IsNotFound(err), "want 404 through a, got %v", err)
	})
}

// componentConfig is the client configuration of a component's own identity, written by
// srv, for the space at path.
func componentConfig(t *testing.T, srv *framework.SpaceServer, component, path string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: srv.IdentityKubeconfig(component)},
		&clientcmd.ConfigOverrides{CurrentContext: kubeconfig.BaseContext}).ClientConfig()
	require.NoError(t, err)
	return spaces.ConfigFor(cfg, path)
}
