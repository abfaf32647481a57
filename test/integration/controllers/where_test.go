package controllers

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/test/framework"
)

func TestWhereResolver(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	imw1 := srv.CreateSpaceWithAPI("imw1")
	imw2 := srv.CreateSpaceWithAPI("imw2")
	srv.CreateSpaceWithAPI("wmw1")
	ctx := t.Context()
	in1, in2, wmw := srv.Client("root:imw1"), srv.Client("root:imw2"), srv.Client("root:wmw1")

	// Inventory, as `kubectl kubestellar ensure location` makes it.
	location := func(c client.Client, name string, labels map[string]string) *edgev2alpha1.SyncTarget {
		stLabels := map[string]string{"id": name}
		for k, v := range labels {
			stLabels[k] = v
		}
		st := &edgev2alpha1.SyncTarget{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: stLabels}}
		require.NoError(t, c.Create(ctx, st))
		require.NoError(t, c.Create(ctx, &edgev2alpha1.Location{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: edgev2alpha1.LocationSpec{
				Resource:         edgev2alpha1.GroupVersionResource{Group: "edge.kubestellar.io", Version: "v2alpha1", Resource: "synctargets"},
				InstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"id": name}},
			},
		}))
		return st
	}
	florin := location(in1, "florin", map[string]string{"env": "prod"})
	guilder := location(in1, "guilder", map[string]string{"env": "prod", "extended": "yes"})
	ruble := location(in2, "ruble", map[string]string{"env": "test"})

	placement := func(name string, selectors ...metav1.LabelSelector) *edgev2alpha1.EdgePlacement {
		ep := &edgev2alpha1.EdgePlacement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: edgev2alpha1.EdgePlacementSpec{LocationSelectors: selectors}}
		require.NoError(t, wmw.Create(ctx, ep))
		return ep
	}
	dest := func(space string, st *edgev2alpha1.SyncTarget) edgev2alpha1.SinglePlacement {
		return edgev2alpha1.SinglePlacement{Cluster: space, LocationName: st.Name, SyncTargetName: st.Name, SyncTargetUID: st.UID}
	}
	destinations := func(name string) []edgev2alpha1.SinglePlacement {
		slice := &edgev2alpha1.SinglePlacementSlice{}
		if err := wmw.Get(ctx, client.ObjectKey{Name: name}, slice); err != nil {
			return nil
		}
		return slice.Destinations
	}
	hasDestinations := func(name string, want ...edgev2alpha1.SinglePlacement) func() bool {
		return func() bool {
			got := destinations(name)
			return len(got) == len(want) && !slices.ContainsFunc(want, func(d edgev2alpha1.SinglePlacement) bool { return !slices.Contains(got, d) })
		}
	}

	prod := placement("edge-placement-c", metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}})
	extended := placement("edge-placement-s", metav1.LabelSelector{MatchLabels: map[string]string{"extended": "yes"}})
	anyOf := placement("any-of",
		metav1.LabelSelector{MatchLabels: map[string]string{"env": "test"}},
		metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "extended", Operator: metav1.LabelSelectorOpExists}}})

	resolver := framework.StartController(t, srv, "kubestellar-where-resolver", framework.SetupFunc(where.Setup, where.Options{Concurrency: 4}))

	t.Run("placements resolve to the SyncTargets of the matching Locations", func(t *testing.T) {
		framework.Eventually(t, time.Minute, "prod has florin and guilder", hasDestinations(prod.Name, dest(imw1.Status.Cluster, florin), dest(imw1.Status.Cluster, guilder)))
		framework.Eventually(t, time.Minute, "extended has guilder", hasDestinations(extended.Name, dest(imw1.Status.Cluster, guilder)))
		framework.Eventually(t, time.Minute, "any-of spans two spaces", hasDestinations(anyOf.Name, dest(imw1.Status.Cluster, guilder), dest(imw2.Status.Cluster, ruble)))

		slice := &edgev2alpha1.SinglePlacementSlice{}
		require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: prod.Name}, slice))
		require.Len(t, slice.OwnerReferences, 1)
		assert.Equal(t, prod.UID, slice.OwnerReferences[0].UID)
		assert.True(t, *slice.OwnerReferences[0].Controller)

		ep := &edgev2alpha1.EdgePlacement{}
		framework.Eventually(t, 30*time.Second, "status counts the locations", func() bool {
			require.NoError(t, wmw.Get(ctx, client.ObjectKeyFromObject(prod), ep))
			return ep.Status.MatchingLocationCount == 2 && meta.IsStatusConditionTrue(ep.Status.Conditions, where.ConditionResolved)
		})
	})

	t.Run("relabelling a Location moves destinations", func(t *testing.T) {
		loc := &edgev2alpha1.Location{}
		require.NoError(t, in1.Get(ctx, client.ObjectKey{Name: "guilder"}, loc))
		delete(loc.Labels, "extended")
		require.NoError(t, in1.Update(ctx, loc))
		framework.Eventually(t, time.Minute, "extended has no destinations", hasDestinations(extended.Name))
		framework.Eventually(t, time.Minute, "any-of keeps ruble only", hasDestinations(anyOf.Name, dest(imw2.Status.Cluster, ruble)))
	})

	t.Run("a placement matching no Location says why, briefly", func(t *testing.T) {
		resolvedAs := func(name string, status metav1.ConditionStatus, reason string) *metav1.Condition {
			t.Helper()
			ep := &edgev2alpha1.EdgePlacement{}
			var cond *metav1.Condition
			framework.Eventually(t, time.Minute, name+" is Resolved "+string(status)+" "+reason, func() bool {
				require.NoError(t, wmw.Get(ctx, client.ObjectKey{Name: name}, ep))
				cond = meta.FindStatusCondition(ep.Status.Conditions, where.ConditionResolved)
				return cond != nil && cond.Status == status && cond.Reason == reason && cond.ObservedGeneration == ep.Generation
			})
			return cond
		}
		// extended lost its only Location above.
		cond := resolvedAs(extended.Name, metav1.ConditionFalse, where.ReasonNoLocationMatched)
		assert.Equal(t, `no Location matches (3 looked at): `+
			`location "florin" in root:imw1: locationSelectors[0]: label extended: want "yes", absent; `+
			`location "guilder" in root:imw1: locationSelectors[0]: label extended: want "yes", absent; `+
			`location "ruble" in root:imw2: locationSelectors[0]: label extended: want "yes", absent`, cond.Message)

		// Beyond a few Locations the message only counts them.
		kopek := location(in2, "kopek", map[string]string{"env": "none"})
		nowhere := placement("nowhere", metav1.LabelSelector{
			MatchLabels:      map[string]string{"env": "none"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"gold", "silver"}}},
		})
		cond = resolvedAs(nowhere.Name, metav1.ConditionFalse, where.ReasonNoLocationMatched)
		assert.Equal(t, `no Location matches (4 looked at): `+
			`location "florin" in root:imw1: locationSelectors[0]: label env: want "none", has "prod"; `+
			`location "guilder" in root:imw1: locationSelectors[0]: label env: want "none", has "prod"; `+
			`location "kopek" in root:imw2: locationSelectors[0]: matchExpressions key=tier operator=In values=[gold silver]: label tier absent; `+
			`and 1 more`, cond.Message)

		event := func(name, eventType, reason string) func() bool {
			return func() bool {
				list := &eventsv1.EventList{}
				require.NoError(t, wmw.List(ctx, list))
				return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
					return e.Regarding.Kind == "EdgePlacement" && e.Regarding.Name == name && e.Type == eventType &&
						e.Reason == reason && e.Action == "Resolve" && e.ReportingController == where.FieldManager
				})
			}
		}
		framework.Eventually(t, time.Minute, "a Warning Event says nowhere matches nothing", event(nowhere.Name, corev1.EventTypeWarning, where.ReasonNoLocationMatched))

		// A Location that comes to match resolves it.
		loc := &edgev2alpha1.Location{}
		edit(t, in2, client.ObjectKey{Name: "kopek"}, loc, func() { loc.Labels["tier"] = "gold" })
		resolvedAs(nowhere.Name, metav1.ConditionTrue, where.ReasonResolved)
		framework.Eventually(t, time.Minute, "a Normal Event says nowhere is resolved", event(nowhere.Name, corev1.EventTypeNormal, where.ReasonResolved))
		framework.Eventually(t, time.Minute, "nowhere has kopek", hasDestinations(nowhere.Name, dest(imw2.Status.Cluster, kopek)))

		require.NoError(t, wmw.Delete(ctx, nowhere))
		require.NoError(t, in2.Delete(ctx, loc))
		require.NoError(t, in2.Delete(ctx, kopek))
	})

	t.Run("relabelling a SyncTarget moves destinations", func(t *testing.T) {
		st := &edgev2alpha1.SyncTarget{}
		require.NoError(t, in1.Get(ctx, client.ObjectKey{Name: "florin"}, st))
		st.Labels["id"] = "retired"
		require.NoError(t, in1.Update(ctx, st))
		framework.Eventually(t, time.Minute, "prod loses florin", hasDestinations(prod.Name, dest(imw1.Status.Cluster, guilder)))
		st.Labels["id"] = "florin"
		require.NoError(t, in1.Update(ctx, st))
		framework.Eventually(t, time.Minute, "prod gets florin back", hasDestinations(prod.Name, dest(imw1.Status.Cluster, florin), dest(imw1.Status.Cluster, guilder)))
	})

	t.Run("a SyncTarget's status and annotations resolve nothing again", func(t *testing.T) {
		const controller = "where-resolver"
		framework.Eventually(t, time.Minute, "prod has florin and guilder", hasDestinations(prod.Name, dest(imw1.Status.Cluster, florin), dest(imw1.Status.Cluster, guilder)))
		settled := reconciles(t, controller)
		framework.Eventually(t, 30*time.Second, "the resolver is idle", func() bool {
			now := reconciles(t, controller)
			idle := now == settled
			settled = now
			return idle
		})
		// What the mailbox controller and the syncers write into a SyncTarget, many times.
		for i := range 10 {
			st := &edgev2alpha1.SyncTarget{}
			require.NoError(t, in1.Get(ctx, client.ObjectKey{Name: "guilder"}, st))
			beat := metav1.NewTime(time.Now().Add(time.Duration(i) * time.Second))
			st.Status.LastSyncerHeartbeatTime = &beat
			require.NoError(t, in1.Status().Update(ctx, st))
			require.NoError(t, in1.Get(ctx, client.ObjectKey{Name: "guilder"}, st))
			if st.Annotations == nil {
				st.Annotations = map[string]string{}
			}
			st.Annotations["example.com/seen"] = beat.UTC().Format(time.RFC3339)
			require.NoError(t, in1.Update(ctx, st))
		}
		framework.Consistently(t, 5*time.Second, "no placement is resolved again", func() bool {
			return reconciles(t, controller) == settled
		})
		// A label still counts.
		st := &edgev2alpha1.SyncTarget{}
		edit(t, in1, client.ObjectKey{Name: "guilder"}, st, func() { st.Labels["id"] = "retired" })
		framework.Eventually(t, time.Minute, "prod loses guilder", hasDestinations(prod.Name, dest(imw1.Status.Cluster, florin)))
		assert.Greater(t, reconciles(t, controller), settled)
		edit(t, in1, client.ObjectKey{Name: "guilder"}, st, func() { st.Labels["id"] = "guilder" })
		framework.Eventually(t, time.Minute, "prod gets guilder back", hasDestinations(prod.Name, dest(imw1.Status.Cluster, florin), dest(imw1.Status.Cluster, guilder)))
	})

	t.Run("an invalid selector gives a condition and keeps the slice", func(t *testing.T) {
		ep := &edgev2alpha1.EdgePlacement{}
		edit(t, wmw, client.ObjectKeyFromObject(prod), ep, func() {
			ep.Spec.LocationSelectors = append(ep.Spec.LocationSelectors, metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: "Resembles", Values: []string{"prod"}}},
			})
		})
		var cond *metav1.Condition
		framework.Eventually(t, time.Minute, "Resolved is False", func() bool {
			require.NoError(t, wmw.Get(ctx, client.ObjectKeyFromObject(prod), ep))
			cond = meta.FindStatusCondition(ep.Status.Conditions, where.ConditionResolved)
			return cond != nil && cond.Status == metav1.ConditionFalse && cond.ObservedGeneration == ep.Generation
		})
		assert.Equal(t, where.ReasonInvalidSelector, cond.Reason)
		assert.Contains(t, cond.Message, "spec.locationSelectors[1]")
		assert.Contains(t, cond.Message, `"Resembles" is not a valid label selector operator`)
		assert.Len(t, destinations(prod.Name), 2, "the slice keeps its destinations")

		edit(t, wmw, client.ObjectKeyFromObject(prod), ep, func() { ep.Spec.LocationSelectors = ep.Spec.LocationSelectors[:1] })
		framework.Eventually(t, time.Minute, "Resolved is True again", func() bool {
			require.NoError(t, wmw.Get(ctx, client.ObjectKeyFromObject(prod), ep))
			return meta.IsStatusConditionTrue(ep.Status.Conditions, where.ConditionResolved)
		})
	})

	t.Run("a space that cannot answer holds up only itself and loses nothing", func(t *testing.T) {
		// The resolver restarts while imw2's API server is frozen: imw2's destinations stay as
		// they were, and what imw1 holds is resolved meanwhile.
		resolver.Stop()
		thaw := freeze(t, srv, imw2.Status.Cluster)
		resolver.Start()
		lira := location(in1, "lira", map[string]string{"env": "test"})
		framework.Eventually(t, time.Minute, "any-of gets lira and keeps ruble", hasDestinations(anyOf.Name, dest(imw1.Status.Cluster, lira), dest(imw2.Status.Cluster, ruble)))
		framework.Consistently(t, 5*time.Second, "any-of keeps ruble", hasDestinations(anyOf.Name, dest(imw1.Status.Cluster, lira), dest(imw2.Status.Cluster, ruble)))
		thaw()
		require.NoError(t, in1.Delete(ctx, &edgev2alpha1.Location{ObjectMeta: metav1.ObjectMeta{Name: "lira"}}))
		require.NoError(t, in1.Delete(ctx, lira))
		framework.Eventually(t, 2*time.Minute, "any-of is back to ruble", hasDestinations(anyOf.Name, dest(imw2.Status.Cluster, ruble)))
	})

	t.Run("a space without the inventory API holds up nothing", func(t *testing.T) {
		// A brand-new space without the KubeStellar API; what imw1 holds is resolved all the same.
		srv.CreateSpace("plain")
		lira := location(in1, "lira2", map[string]string{"env": "test"})
		framework.Eventually(t, time.Minute, "any-of gets lira2", hasDestinations(anyOf.Name, dest(imw1.Status.Cluster, lira), dest(imw2.Status.Cluster, ruble)))
		require.NoError(t, in1.Delete(ctx, &edgev2alpha1.Location{ObjectMeta: metav1.ObjectMeta{Name: "lira2"}}))
		require.NoError(t, in1.Delete(ctx, lira))
		framework.Eventually(t, time.Minute, "any-of is back to ruble", hasDestinations(anyOf.Name, dest(imw2.Status.Cluster, ruble)))
	})

	t.Run("a new Location in a new space is found", func(t *testing.T) {
		imw3 := srv.CreateSpaceWithAPI("imw3")
		peso := location(srv.Client("root:imw3"), "peso", map[string]string{"env": "prod"})
		framework.Eventually(t, time.Minute, "prod gets peso", hasDestinations(prod.Name,
			dest(imw1.Status.Cluster, florin), dest(imw1.Status.Cluster, guilder), dest(imw3.Status.Cluster, peso)))
	})

	t.Run("deleting the placement deletes its slice", func(t *testing.T) {
		require.NoError(t, wmw.Delete(ctx, extended))
		framework.Eventually(t, time.Minute, "the slice is gone", func() bool {
			err := wmw.Get(ctx, client.ObjectKey{Name: extended.Name}, &edgev2alpha1.SinglePlacementSlice{})
			return client.IgnoreNotFound(err) == nil && err != nil
		})
	})
}
