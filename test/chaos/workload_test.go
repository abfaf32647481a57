//go:build chaos

package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

const (
	// labelWorkload marks the workload's namespaces and cluster-scoped objects; the
	// placement selects by it.
	labelWorkload = "chaos.kubestellar.io/workload"
	labelRev      = "chaos.kubestellar.io/rev"
	labelTier     = "chaos.kubestellar.io/tier"
	fieldManager  = "kubestellar-chaos"
	// namePrefix starts the name of every namespace and cluster-scoped object of the
	// workload, so that a leftover one is found in a cluster.
	namePrefix    = "chaos-"
	baseNamespace = "chaos-base"
)

// desired is an object's content as the suite compares it: labels and data (a ConfigMap's
// data; a ClusterRole's rules in one canonical string).
type desired struct {
	Labels map[string]string
	Data   map[string]string
}

func (d desired) String() string { return fmt.Sprintf("labels=%v data=%v", d.Labels, d.Data) }

// model is what the workload management space holds, and so what every cluster must hold.
type model struct {
	namespaces map[string]desired
	configMaps map[string]desired // namespace/name
	roles      map[string]desired
	next       int
}

func newModel() *model {
	return &model{namespaces: map[string]desired{}, configMaps: map[string]desired{}, roles: map[string]desired{}}
}

// op is one change to the workload; run is idempotent, so it is retried until it succeeds.
type op struct {
	what string
	run  func(ctx context.Context, cs kubernetes.Interface) error
	// pause is the time to wait after the op before the next (spread sets it).
	pause time.Duration
}

func (m *model) name(kind string) string {
	m.next++
	return fmt.Sprintf("%s%s-%d", namePrefix, kind, m.next)
}

func (m *model) cmCreate(rng *rand.Rand, ns string) op {
	name := m.name("cm")
	d := randomConfigMap(rng, 0)
	m.configMaps[ns+"/"+name] = d
	return op{what: "create ConfigMap " + ns + "/" + name, run: applyConfigMap(ns, name, d)}
}

// plan chooses n changes, applying them to the model as it goes: the model then is what
// the space holds once they have all been made.
func (m *model) plan(rng *rand.Rand, n int) []op {
	var ops []op
	for len(ops) < n {
		nsNames := slices.Sorted(maps.Keys(m.namespaces))
		cmKeys := slices.Sorted(maps.Keys(m.configMaps))
		roleNames := slices.Sorted(maps.Keys(m.roles))
		var dynamic []string
		for _, ns := range nsNames {
			if ns != baseNamespace {
				dynamic = append(dynamic, ns)
			}
		}
		w := rng.IntN(100)
		switch {
		case w < 30 || len(cmKeys) == 0:
			if len(cmKeys) >= 40 {
				continue
			}
			ops = append(ops, m.cmCreate(rng, nsNames[rng.IntN(len(nsNames))]))
		case w < 58:
			key := cmKeys[rng.IntN(len(cmKeys))]
			ns, name, _ := strings.Cut(key, "/")
			rev, _ := strconv.Atoi(m.configMaps[key].Labels[labelRev])
			d := randomConfigMap(rng, rev+1)
			m.configMaps[key] = d
			ops = append(ops, op{what: "update ConfigMap " + key, run: applyConfigMap(ns, name, d)})
		case w < 72:
			key := cmKeys[rng.IntN(len(cmKeys))]
			ns, name, _ := strings.Cut(key, "/")
			delete(m.configMaps, key)
			ops = append(ops, op{what: "delete ConfigMap " + key, run: deleteConfigMap(ns, name)})
		case w < 78:
			if len(dynamic) >= 4 {
				continue
			}
			name := m.name("ns")
			d := desired{Labels: map[string]string{labelWorkload: "true"}}
			m.namespaces[name] = d
			ops = append(ops, op{what: "create Namespace " + name, run: applyNamespace(name, d)})
			for range 1 + rng.IntN(2) {
				ops = append(ops, m.cmCreate(rng, name))
			}
		case w < 82:
			name := nsNames[rng.IntN(len(nsNames))]
			d := desired{Labels: map[string]string{labelWorkload: "true"}}
			if _, had := m.namespaces[name].Labels[labelTier]; !had {
				d.Labels[labelTier] = strconv.Itoa(rng.IntN(3))
			}
			m.namespaces[name] = d
			ops = append(ops, op{what: "update Namespace " + name, run: applyNamespace(name, d)})
		case w < 87:
			if len(dynamic) == 0 {
				continue
			}
			// Names are never used again: a deleted namespace takes a while to go.
			name := dynamic[rng.IntN(len(dynamic))]
			delete(m.namespaces, name)
			for _, key := range cmKeys {
				if strings.HasPrefix(key, name+"/") {
					delete(m.configMaps, key)
				}
			}
			ops = append(ops, op{what: "delete Namespace " + name, run: deleteNamespace(name)})
		case w < 96 || len(roleNames) == 0:
			name := ""
			verb := "create"
			if len(roleNames) > 0 && (len(roleNames) >= 5 || rng.IntN(2) == 0) {
				name, verb = roleNames[rng.IntN(len(roleNames))], "update"
			} else {
				name = m.name("role")
			}
			d := randomRole(rng)
			m.roles[name] = d
			ops = append(ops, op{what: verb + " ClusterRole " + name, run: applyRole(name, d)})
		default:
			name := roleNames[rng.IntN(len(roleNames))]
			delete(m.roles, name)
			ops = append(ops, op{what: "delete ClusterRole " + name, run: deleteRole(name)})
		}
	}
	return ops
}

func randomConfigMap(rng *rand.Rand, rev int) desired {
	d := desired{Labels: map[string]string{labelRev: strconv.Itoa(rev)}, Data: map[string]string{}}
	if rng.IntN(2) == 0 {
		d.Labels[labelTier] = strconv.Itoa(rng.IntN(3))
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if rng.IntN(2) == 0 {
			d.Data[k] = strconv.FormatUint(rng.Uint64(), 36)
		}
	}
	if len(d.Data) == 0 {
		d.Data["a"] = "only"
	}
	return d
}

var roleVerbs = []string{"get", "list", "watch", "create", "update", "delete"}

func randomRole(rng *rand.Rand) desired {
	var verbs []string
	for _, v := range roleVerbs {
		if rng.IntN(2) == 0 {
			verbs = append(verbs, v)
		}
	}
	if len(verbs) == 0 {
		verbs = []string{"get"}
	}
	rules := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: verbs}}
	return desired{Labels: map[string]string{labelWorkload: "true", labelRev: strconv.Itoa(rng.IntN(1000))}, Data: map[string]string{"rules": canonicalRules(rules)}}
}

func canonicalRules(rules []rbacv1.PolicyRule) string {
	parts := make([]string, 0, len(rules))
	for _, r := range rules {
		parts = append(parts, strings.Join(r.APIGroups, ",")+"|"+strings.Join(r.Resources, ",")+"|"+strings.Join(r.Verbs, ","))
	}
	return strings.Join(parts, ";")
}

func rulesOf(d desired) []*rbacv1ac.PolicyRuleApplyConfiguration {
	var out []*rbacv1ac.PolicyRuleApplyConfiguration
	for _, part := range strings.Split(d.Data["rules"], ";") {
		f := strings.Split(part, "|")
		out = append(out, rbacv1ac.PolicyRule().WithAPIGroups(strings.Split(f[0], ",")...).WithResources(strings.Split(f[1], ",")...).WithVerbs(strings.Split(f[2], ",")...))
	}
	return out
}

var applyOpts = metav1.ApplyOptions{FieldManager: fieldManager, Force: true}

func applyConfigMap(ns, name string, d desired) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, cs kubernetes.Interface) error {
		_, err := cs.CoreV1().ConfigMaps(ns).Apply(ctx, corev1ac.ConfigMap(name, ns).WithLabels(d.Labels).WithData(d.Data), applyOpts)
		return err
	}
}

func deleteConfigMap(ns, name string) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, cs kubernetes.Interface) error {
		return ignoreNotFound(cs.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{}), "configmaps")
	}
}

func applyNamespace(name string, d desired) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, cs kubernetes.Interface) error {
		_, err := cs.CoreV1().Namespaces().Apply(ctx, corev1ac.Namespace(name).WithLabels(d.Labels), applyOpts)
		return err
	}
}

func deleteNamespace(name string) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, cs kubernetes.Interface) error {
		return ignoreNotFound(cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}), "namespaces")
	}
}

func applyRole(name string, d desired) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, cs kubernetes.Interface) error {
		_, err := cs.RbacV1().ClusterRoles().Apply(ctx, rbacv1ac.ClusterRole(name).WithLabels(d.Labels).WithRules(rulesOf(d)...), applyOpts)
		return err
	}
}

func deleteRole(name string) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, cs kubernetes.Interface) error {
		return ignoreNotFound(cs.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{}), "clusterroles")
	}
}

// ignoreNotFound treats a NotFound about the object itself (of the given resource) as
// success. Any other NotFound, such as one saying that the space is not found, is an error.
func ignoreNotFound(err error, resource string) error {
	if _, kind, ok := notFoundAbout(err); ok && kind == resource {
		return nil
	}
	return err
}

// notFoundAbout returns the group and resource a NotFound error is about.
func notFoundAbout(err error) (group, resource string, ok bool) {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return "", "", false
	}
	d := status.Status().Details
	return d.Group, d.Kind, true
}

// spuriousNotFound reports whether err says that the space itself is not found: a space
// that exists must never be reported missing, even while the server restarts.
func spuriousNotFound(err error) bool {
	group, _, ok := notFoundAbout(err)
	return ok && group == spacev1alpha1.GroupName
}

// runOps makes the changes in order, retrying each (every 500 ms) while the core is down,
// until deadline.
func runOps(ctx context.Context, cs kubernetes.Interface, ops []op, deadline time.Time) ([]string, error) {
	var spurious []string
	for i, o := range ops {
		var err error
		for {
			if err = o.run(ctx, cs); err == nil {
				break
			}
			if spuriousNotFound(err) {
				spurious = append(spurious, fmt.Sprintf("%s: %v", o.what, err))
			}
			if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
				return spurious, fmt.Errorf("%s: %w", o.what, err)
			}
			if time.Now().After(deadline) {
				return spurious, fmt.Errorf("%s: still failing at the deadline: %w", o.what, err)
			}
			select {
			case <-ctx.Done():
				return spurious, ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
		if i == len(ops)-1 {
			break
		}
		select {
		case <-ctx.Done():
			return spurious, ctx.Err()
		case <-time.After(o.pause):
		}
	}
	return spurious, nil
}

// spread sets the pauses between the changes so that they span window: some are in flight
// when the fault strikes, more are made while it lasts.
func spread(rng *rand.Rand, ops []op, window time.Duration) {
	weights := make([]float64, len(ops))
	sum := 0.0
	for i := range weights {
		weights[i] = 0.2 + rng.Float64()
		sum += weights[i]
	}
	for i := range ops {
		ops[i].pause = time.Duration(float64(window) * weights[i] / sum)
	}
}

// diffItem is one way a cluster differs from the model.
type diffItem struct {
	cluster   int
	kind, key string
	text      string
}

func (d diffItem) String() string { return d.text }

// observation is how the clusters differ from the model.
type observation struct {
	lost, stale, extra []diffItem
}

func (o observation) converged() bool { return len(o.lost)+len(o.stale)+len(o.extra) == 0 }

// ignoredLabels are the labels a cluster adds by itself, or the syncer adds to mark what
// it created.
var ignoredLabels = []string{syncer.LabelDownsynced, corev1.LabelMetadataName}

func observedLabels(l map[string]string) map[string]string {
	out := maps.Clone(l)
	for _, k := range ignoredLabels {
		delete(out, k)
	}
	return out
}

func sameContent(want desired, labels, data map[string]string) bool {
	return equalMaps(want.Labels, observedLabels(labels)) && equalMaps(want.Data, data)
}

func equalMaps(a, b map[string]string) bool { return len(a) == len(b) && maps.Equal(a, b) }

// seeded names what was put into a cluster behind KubeStellar's back, by kind and key.
type seeded map[string]bool

func seedKey(kind, key string) string { return kind + " " + key }

// compare reports how one cluster's objects differ from the model. An object is the
// workload's when the syncer marked it or its name (or namespace) has the workload's prefix;
// every such object must be wanted, and every wanted one present with the wanted content.
// Objects being deleted count as present.
func compare(index int, m *model, seeds seeded, nss []corev1.Namespace, cms []corev1.ConfigMap, roles []rbacv1.ClusterRole) observation {
	var o observation
	ours := func(labels map[string]string, name string) bool {
		return labels[syncer.LabelDownsynced] != "" || strings.HasPrefix(name, namePrefix)
	}
	check := func(kind, key string, want desired, wanted bool, seen bool, labels, data map[string]string, deleting bool, mine bool) {
		id := fmt.Sprintf("%s %s %s", clusterName(index), kind, key)
		item := func(text string) diffItem { return diffItem{cluster: index, kind: kind, key: key, text: text} }
		switch {
		case seeds[seedKey(kind, key)]:
		case wanted && !seen:
			o.lost = append(o.lost, item("lost "+id))
		case wanted && deleting:
			o.lost = append(o.lost, item("lost "+id+" (being deleted)"))
		case wanted && !sameContent(want, labels, data):
			o.stale = append(o.stale, item(fmt.Sprintf("stale %s: has labels=%v data=%v, want %s", id, observedLabels(labels), data, want)))
		case !wanted && seen && mine:
			suffix := ""
			if deleting {
				suffix = " (being deleted)"
			}
			o.extra = append(o.extra, item(fmt.Sprintf("extra %s%s: labels=%v data=%v", id, suffix, labels, data)))
		}
	}
	seenNS := map[string]bool{}
	for i := range nss {
		ns := &nss[i]
		seenNS[ns.Name] = true
		want, wanted := m.namespaces[ns.Name]
		check("Namespace", ns.Name, want, wanted, true, ns.Labels, nil, ns.DeletionTimestamp != nil, ours(ns.Labels, ns.Name))
	}
	for name, want := range m.namespaces {
		if !seenNS[name] {
			check("Namespace", name, want, true, false, nil, nil, false, true)
		}
	}
	seenCM := map[string]bool{}
	for i := range cms {
		cm := &cms[i]
		if cm.Name == "kube-root-ca.crt" {
			continue
		}
		key := cm.Namespace + "/" + cm.Name
		seenCM[key] = true
		want, wanted := m.configMaps[key]
		check("ConfigMap", key, want, wanted, true, cm.Labels, cm.Data, cm.DeletionTimestamp != nil, ours(cm.Labels, cm.Namespace))
	}
	for key, want := range m.configMaps {
		if !seenCM[key] {
			check("ConfigMap", key, want, true, false, nil, nil, false, true)
		}
	}
	seenRole := map[string]bool{}
	for i := range roles {
		r := &roles[i]
		seenRole[r.Name] = true
		want, wanted := m.roles[r.Name]
		check("ClusterRole", r.Name, want, wanted, true, r.Labels, map[string]string{"rules": canonicalRules(r.Rules)}, r.DeletionTimestamp != nil, ours(r.Labels, r.Name))
	}
	for name, want := range m.roles {
		if !seenRole[name] {
			check("ClusterRole", name, want, true, false, nil, nil, false, true)
		}
	}
	for _, l := range [][]diffItem{o.lost, o.stale, o.extra} {
		sort.Slice(l, func(i, j int) bool { return l[i].text < l[j].text })
	}
	return o
}

// observeCluster lists a cluster's objects and compares them with the model.
func observeCluster(ctx context.Context, index int, cs kubernetes.Interface, m *model, seeds seeded) (observation, error) {
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return observation{}, fmt.Errorf("listing namespaces of %s: %w", clusterName(index), err)
	}
	cms, err := cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return observation{}, fmt.Errorf("listing ConfigMaps of %s: %w", clusterName(index), err)
	}
	roles, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return observation{}, fmt.Errorf("listing ClusterRoles of %s: %w", clusterName(index), err)
	}
	return compare(index, m, seeds, nss.Items, cms.Items, roles.Items), nil
}

// localObject is an object created in a cluster without KubeStellar, with what it was.
type localObject struct {
	kind, namespace, name string
	uid, resourceVersion  string
}

func (l localObject) key() string {
	if l.namespace == "" {
		return l.name
	}
	return l.namespace + "/" + l.name
}

// seedCluster creates, in a cluster, objects that KubeStellar must leave alone: a namespace
// of its own with a ConfigMap, a ConfigMap in a namespace the workload uses, and a
// ClusterRole carrying the workload's label.
func seedCluster(ctx context.Context, cs kubernetes.Interface) ([]localObject, error) {
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "wec-local", Labels: map[string]string{"owner": "wec"}}}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	out := []localObject{{kind: "Namespace", name: ns.Name, uid: string(ns.UID), resourceVersion: ns.ResourceVersion}}
	for _, c := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "wec-local", Name: "keep-me"}, Data: map[string]string{"note": "made in the cluster"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: baseNamespace, Name: "wec-notes"}, Data: map[string]string{"note": "made in the cluster, beside the workload"}},
	} {
		cm, err := cs.CoreV1().ConfigMaps(c.Namespace).Create(ctx, c, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
		out = append(out, localObject{kind: "ConfigMap", namespace: cm.Namespace, name: cm.Name, uid: string(cm.UID), resourceVersion: cm.ResourceVersion})
	}
	role, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: namePrefix + "wec-local", Labels: map[string]string{labelWorkload: "true"}},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return append(out, localObject{kind: "ClusterRole", name: role.Name, uid: string(role.UID), resourceVersion: role.ResourceVersion}), nil
}

// checkLocal reports how the cluster's own objects were touched (deleted, replaced or
// changed); an error means the cluster could not tell.
func checkLocal(ctx context.Context, cluster string, cs kubernetes.Interface, objs []localObject) ([]string, error) {
	var violations []string
	for _, l := range objs {
		var meta metav1.Object
		var err error
		switch l.kind {
		case "Namespace":
			meta, err = cs.CoreV1().Namespaces().Get(ctx, l.name, metav1.GetOptions{})
		case "ConfigMap":
			meta, err = cs.CoreV1().ConfigMaps(l.namespace).Get(ctx, l.name, metav1.GetOptions{})
		case "ClusterRole":
			meta, err = cs.RbacV1().ClusterRoles().Get(ctx, l.name, metav1.GetOptions{})
		}
		id := fmt.Sprintf("%s %s %s", cluster, l.kind, l.key())
		switch {
		case apierrors.IsNotFound(err):
			violations = append(violations, id+": deleted")
		case err != nil:
			return nil, err
		case string(meta.GetUID()) != l.uid:
			violations = append(violations, id+": replaced (new UID)")
		case meta.GetDeletionTimestamp() != nil:
			violations = append(violations, id+": being deleted")
		case meta.GetResourceVersion() != l.resourceVersion:
			violations = append(violations, fmt.Sprintf("%s: changed (resourceVersion %s, was %s)", id, meta.GetResourceVersion(), l.resourceVersion))
		}
	}
	return violations, nil
}

// diagnose says where along the data path a differing object stopped: what the workload
// management space holds, and what the cluster's mailbox wraps for it with the syncer's
// Synced condition.
func (e *env) diagnose(ctx context.Context, d diffItem) string {
	ns, name, namespaced := strings.Cut(d.key, "/")
	if !namespaced {
		ns, name = "", d.key
	}
	var parts []string
	var obj metav1.Object
	var labels, data map[string]string
	var err error
	switch d.kind {
	case "Namespace":
		var o *corev1.Namespace
		if o, err = e.wmw.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err == nil {
			obj, labels = o, o.Labels
		}
	case "ConfigMap":
		var o *corev1.ConfigMap
		if o, err = e.wmw.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			obj, labels, data = o, o.Labels, o.Data
		}
	case "ClusterRole":
		var o *rbacv1.ClusterRole
		if o, err = e.wmw.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{}); err == nil {
			obj, labels, data = o, o.Labels, map[string]string{"rules": canonicalRules(o.Rules)}
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		parts = append(parts, "not in the workload space")
	case err != nil:
		parts = append(parts, fmt.Sprintf("workload space unreadable (%v)", err))
	case obj.GetDeletionTimestamp() != nil:
		parts = append(parts, "being deleted in the workload space")
	default:
		parts = append(parts, fmt.Sprintf("workload space has labels=%v data=%v", observedLabels(labels), data))
	}

	box := e.syncers[d.cluster].mailbox
	list := &edgev2alpha1.WrappedObjectList{}
	if err := e.espwClient.List(ctx, list, client.InNamespace(box)); err != nil {
		return strings.Join(append(parts, fmt.Sprintf("mailbox unreadable (%v)", err)), "; ")
	}
	found := false
	for i := range list.Items {
		w := &list.Items[i]
		o, err := wrapper.Unwrap(w)
		if err != nil || o.GetKind() != d.kind || o.GetNamespace() != ns || o.GetName() != name {
			continue
		}
		found = true
		wdata, _, _ := unstructured.NestedStringMap(o.Object, "data")
		if d.kind == "ClusterRole" {
			var role rbacv1.ClusterRole
			if runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role) == nil {
				wdata = map[string]string{"rules": canonicalRules(role.Rules)}
			}
		}
		synced := "no Synced condition"
		if c := meta.FindStatusCondition(w.Status.Conditions, syncer.ConditionSynced); c != nil {
			synced = fmt.Sprintf("Synced=%s %s: %s", c.Status, c.Reason, c.Message)
		}
		deleting := ""
		if w.DeletionTimestamp != nil {
			deleting = " (being deleted)"
		}
		parts = append(parts, fmt.Sprintf("wrapper %s%s has labels=%v data=%v, %s", w.Name, deleting, o.GetLabels(), wdata, synced))
	}
	if !found {
		parts = append(parts, "no wrapper in mailbox "+box)
	}
	if ns == "" && d.kind == "Namespace" {
		ns = name
	}
	if ns != "" {
		parts = append(parts, namespaceState(ctx, e.wecCS[d.cluster], clusterName(d.cluster), ns))
	}
	return strings.Join(parts, "; ")
}

// namespaceState says what a cluster's namespace is doing: a namespace that is terminating
// holds back every object placed into it, until the cluster's namespace controller has
// emptied it.
func namespaceState(ctx context.Context, cs kubernetes.Interface, cluster, ns string) string {
	o, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("namespace %s not in %s", ns, cluster)
	case err != nil:
		return fmt.Sprintf("namespace %s in %s unreadable (%v)", ns, cluster, err)
	case o.DeletionTimestamp == nil:
		return fmt.Sprintf("namespace %s in %s is %s", ns, cluster, o.Status.Phase)
	}
	var conds []string
	for _, c := range o.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			conds = append(conds, fmt.Sprintf("%s (%s)", c.Type, c.Message))
		}
	}
	return fmt.Sprintf("namespace %s in %s is terminating, for %s; %s", ns, cluster,
		time.Since(o.DeletionTimestamp.Time).Round(time.Second), strings.Join(conds, ", "))
}
