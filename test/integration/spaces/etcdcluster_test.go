package spaces

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

// TestSpacesOnAnEtcdCluster runs the space server on an external etcd cluster of three
// members, as a user who outgrows the embedded etcd does (--etcd-servers, the chart's
// etcd.endpoints): the spaces live in the cluster, survive the loss of one member, and are
// all found again by a server restarted while a member is down.
func TestSpacesOnAnEtcdCluster(t *testing.T) {
	etcd := framework.StartEtcdCluster(t, filepath.Join(framework.TempDir(t), "etcd"), 3)
	srv := framework.StartSpaceServer(t, func(o *server.Options) {
		o.EtcdServers = etcd.ClientURLs
		o.EtcdCAFile, o.EtcdCertFile, o.EtcdKeyFile = etcd.CAFile, etcd.CertFile, etcd.KeyFile
	})
	ctx := t.Context()
	srv.CreateSpace("wmw1")
	wmw := srv.Client(spaces.ChildPath("wmw1"))

	create := func(name string) *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Data: map[string]string{"k": name}}
		// A request in flight when a member goes may fail once; the next one reaches another.
		framework.Eventually(t, 30*time.Second, "creating ConfigMap "+name, func() bool {
			err := wmw.Create(ctx, cm)
			return err == nil || apierrors.IsAlreadyExists(err)
		})
		require.NoError(t, wmw.Get(ctx, client.ObjectKeyFromObject(cm), cm))
		return cm
	}
	stored := func(kv *clientv3.Client, name string) bool {
		resp, err := kv.Get(ctx, "/kubestellar/spaces/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			return false
		}
		for _, kv := range resp.Kvs {
			if strings.HasSuffix(string(kv.Key), "/configmaps/default/"+name) {
				return true
			}
		}
		return false
	}
	uidOf := func(name string) string {
		t.Helper()
		cm := &corev1.ConfigMap{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, cm))
		return string(cm.UID)
	}

	before := create("before")
	t.Run("the spaces are kept in the cluster, not in the server's directory", func(t *testing.T) {
		_, err := os.Stat(filepath.Join(srv.Options.RootDir, "etcd"))
		assert.True(t, os.IsNotExist(err), "no embedded etcd data: %v", err)
		assert.True(t, stored(etcd.Client(), "before"), "the ConfigMap is a key of the etcd cluster")
	})

	var during *corev1.ConfigMap
	t.Run("with one member down, every space still reads and writes", func(t *testing.T) {
		etcd.StopMember(0)
		during = create("during")
		assert.Equal(t, string(before.UID), uidOf("before"))
		// The root space, where spaces are made, writes too.
		srv.CreateSpace("wmw2")
	})

	t.Run("a server restarted while the first member is down finds every space in the cluster", func(t *testing.T) {
		srv.Stop()
		srv.Start()
		srv.WaitSpaceReady("wmw1")
		srv.WaitSpaceReady("wmw2")
		framework.Eventually(t, time.Minute, "the objects are there, the same ones", func() bool {
			cm := &corev1.ConfigMap{}
			if err := wmw.Get(ctx, client.ObjectKey{Namespace: "default", Name: "during"}, cm); err != nil {
				return false
			}
			return cm.UID == during.UID
		})
		assert.Equal(t, string(before.UID), uidOf("before"))
	})

	t.Run("the member comes back and catches up", func(t *testing.T) {
		etcd.StartMember(0)
		etcd.WaitHealthy()
		only0 := etcd.Client(0)
		framework.Eventually(t, time.Minute, "member0 holds what was written while it was down", func() bool {
			return stored(only0, "during")
		})
	})
}
