package controllers

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/test/framework"
)

func TestMailboxController(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	imw1 := srv.CreateSpaceWithAPI("imw1")
	imw2 := srv.CreateSpaceWithAPI("imw2")
	ctx := t.Context()
	in1, in2 := srv.Client("root:imw1"), srv.Client("root:imw2")

	// The controller may start before the core space exists.
	controller := framework.StartController(t, srv, "mailbox-controller",
		framework.SetupFunc(mailbox.Setup, mailbox.Options{ESPWPath: "root:espw", Concurrency: 4}))

	var espw client.Client
	mailboxes := func() map[string]corev1.Namespace {
		list := &corev1.NamespaceList{}
		require.NoError(t, espw.List(ctx, list, client.MatchingLabels{mailbox.LabelMailbox: "true"}))
		out := map[string]corev1.Namespace{}
		for _, ns := range list.Items {
			if ns.DeletionTimestamp.IsZero() {
				out[ns.Name] = ns
			}
		}
		return out
	}
	createST := func(c client.Client, name string) *edgev2alpha1.SyncTarget {
		st := &edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"id": name}}}
		require.NoError(t, c.Create(ctx, st))
		return st
	}

	florin := createST(in1, "florin")
	guilder := createST(in1, "guilder")
	ruble := createST(in2, "ruble")
	srv.CreateSpaceWithAPI("espw")
	espw = srv.Client("root:espw")
	want := map[string]string{
		imw1.Status.Cluster + "-mb-" + string(florin.UID):  "florin",
		imw1.Status.Cluster + "-mb-" + string(guilder.UID): "guilder",
		imw2.Status.Cluster + "-mb-" + string(ruble.UID):   "ruble",
	}

	t.Run("a mailbox per SyncTarget, named and annotated", func(t *testing.T) {
		framework.Eventually(t, time.Minute, "three mailboxes", func() bool { return len(mailboxes()) == 3 })
		for name, ns := range mailboxes() {
			require.Contains(t, want, name)
			assert.Equal(t, want[name], ns.Annotations[mailbox.AnnotationSyncTargetName])
		}
		log := controller.Log()
		for name := range want {
			assert.Equal(t, 1, countLines(log, "Created mailbox", name), "one log line for creating %s", name)
		}
	})

	t.Run("a SyncTarget made without kcp.io/cluster gets its space's ID, and nothing else changes", func(t *testing.T) {
		lira := &edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: "lira", Labels: map[string]string{"id": "lira", "env": "test"}}}
		require.NoError(t, in1.Create(ctx, lira))
		require.Empty(t, lira.Annotations)
		got := &edgev2alpha1.SyncTarget{}
		framework.Eventually(t, time.Minute, "the annotation appears", func() bool {
			require.NoError(t, in1.Get(ctx, client.ObjectKey{Name: "lira"}, got))
			return got.Annotations[mailbox.AnnotationSpaceID] != ""
		})
		assert.Equal(t, map[string]string{mailbox.AnnotationSpaceID: imw1.Status.Cluster}, got.Annotations)
		assert.Equal(t, lira.Labels, got.Labels)
		assert.Equal(t, lira.Spec, got.Spec)
		// The documents' recipe: the mailbox name is the annotation, -mb-, and the UID.
		name := got.Annotations[mailbox.AnnotationSpaceID] + "-mb-" + string(got.UID)
		want[name] = "lira"
		framework.Eventually(t, time.Minute, "the mailbox of that name", func() bool {
			_, ok := mailboxes()[name]
			return ok
		})
	})

	t.Run("a deleted mailbox is re-created", func(t *testing.T) {
		name := imw1.Status.Cluster + "-mb-" + string(florin.UID)
		old := mailboxes()[name]
		require.NoError(t, espw.Delete(ctx, &old))
		framework.Eventually(t, 2*time.Minute, "the mailbox comes back", func() bool {
			ns, ok := mailboxes()[name]
			return ok && ns.UID != old.UID
		})
	})

	t.Run("deleting the SyncTarget deletes its mailbox", func(t *testing.T) {
		require.NoError(t, in1.Delete(ctx, guilder))
		name := imw1.Status.Cluster + "-mb-" + string(guilder.UID)
		framework.Eventually(t, time.Minute, "the mailbox is deleted", func() bool {
			_, ok := mailboxes()[name]
			return !ok
		})
		framework.Eventually(t, 10*time.Second, "one log line for deleting it", func() bool {
			return countLines(controller.Log(), "Deleted mailbox", name) == 1
		})
		delete(want, name)
	})

	t.Run("a restart in the middle loses nothing and duplicates nothing", func(t *testing.T) {
		controller.Stop()
		// While it is down: a new SyncTarget, a deleted one, and a deleted mailbox.
		dollar := createST(in2, "dollar")
		want[imw2.Status.Cluster+"-mb-"+string(dollar.UID)] = "dollar"
		require.NoError(t, in2.Delete(ctx, ruble))
		delete(want, imw2.Status.Cluster+"-mb-"+string(ruble.UID))
		florinBox := mailboxes()[imw1.Status.Cluster+"-mb-"+string(florin.UID)]
		require.NoError(t, espw.Delete(ctx, &florinBox))

		controller.Start()
		framework.Eventually(t, 2*time.Minute, "the mailboxes match the SyncTargets", func() bool {
			got := mailboxes()
			if len(got) != len(want) {
				return false
			}
			for name := range want {
				if _, ok := got[name]; !ok {
					return false
				}
			}
			return true
		})
		framework.Consistently(t, 3*time.Second, "no extra mailboxes appear", func() bool { return len(mailboxes()) == len(want) })
	})

	t.Run("a space that cannot answer keeps its mailboxes", func(t *testing.T) {
		before := mailboxes()
		// The controller restarts while imw1's API server is frozen: it cannot tell whether
		// imw1 has SyncTargets, and must not take that for "none".
		controller.Stop()
		thaw := freeze(t, srv, imw1.Status.Cluster)
		controller.Start()
		framework.Consistently(t, 20*time.Second, "every mailbox stays", func() bool {
			after := mailboxes()
			for name, ns := range before {
				if after[name].UID != ns.UID {
					return false
				}
			}
			return len(after) == len(before)
		})
		thaw()
		euro := createST(in1, "euro")
		want[imw1.Status.Cluster+"-mb-"+string(euro.UID)] = "euro"
		framework.Eventually(t, 2*time.Minute, "imw1 is handled again", func() bool {
			_, ok := mailboxes()[imw1.Status.Cluster+"-mb-"+string(euro.UID)]
			return ok
		})
	})

	t.Run("a kind that is not served for a moment keeps the mailboxes", func(t *testing.T) {
		before := mailboxes()
		// While imw1 serves no SyncTargets (their objects are still stored), the controller
		// restarts: "not served" is not "none there".
		serve := func(served bool) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			require.NoError(t, in1.Get(ctx, client.ObjectKey{Name: "synctargets.edge.kubestellar.io"}, crd))
			crd.Spec.Versions[0].Served = served
			require.NoError(t, in1.Update(ctx, crd))
		}
		controller.Stop()
		serve(false)
		framework.Eventually(t, time.Minute, "imw1 does not serve SyncTargets", func() bool {
			// A new client, with a new view of discovery.
			err := srv.Client("root:imw1").List(ctx, &edgev2alpha1.SyncTargetList{})
			return meta.IsNoMatchError(err) || apierrors.IsNotFound(err)
		})
		controller.Start()
		framework.Consistently(t, 15*time.Second, "every mailbox stays", func() bool {
			after := mailboxes()
			for name, ns := range before {
				if after[name].UID != ns.UID {
					return false
				}
			}
			return len(after) == len(before)
		})
		serve(true)
		framework.Eventually(t, time.Minute, "imw1 serves SyncTargets again", func() bool {
			return srv.Client("root:imw1").List(ctx, &edgev2alpha1.SyncTargetList{}) == nil
		})
		peso := createST(in1, "peso")
		want[imw1.Status.Cluster+"-mb-"+string(peso.UID)] = "peso"
		framework.Eventually(t, 2*time.Minute, "imw1 is handled again", func() bool {
			_, ok := mailboxes()[imw1.Status.Cluster+"-mb-"+string(peso.UID)]
			return ok
		})
	})

	t.Run("a space server restart deletes nothing", func(t *testing.T) {
		before := mailboxes()
		srv.Stop()
		srv.Start() // same port: the controller keeps its kubeconfig
		for _, name := range []string{"espw", "imw1", "imw2"} {
			srv.WaitSpaceReady(name)
		}
		framework.Consistently(t, 15*time.Second, "every mailbox stays, with the same UID", func() bool {
			after := mailboxes()
			for name, ns := range before {
				if after[name].UID != ns.UID {
					return false
				}
			}
			return len(after) == len(before)
		})
	})

	t.Run("deleting a space deletes its mailboxes", func(t *testing.T) {
		require.NoError(t, srv.Client(spaces.RootPath).Delete(ctx, imw2))
		framework.Eventually(t, 2*time.Minute, "imw2's mailboxes are deleted", func() bool {
			return !slices.ContainsFunc(keys(mailboxes()), func(n string) bool { return strings.HasPrefix(n, imw2.Status.Cluster+"-mb-") })
		})
		_, ok := mailboxes()[imw1.Status.Cluster+"-mb-"+string(florin.UID)]
		assert.True(t, ok, "imw1's mailbox stays")
	})
}

// countLines counts the log lines with the message that mention the mailbox.
func countLines(log, message, mailboxName string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"`+message+`"`) && strings.Contains(line, mailboxName) {
			n++
		}
	}
	return n
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
