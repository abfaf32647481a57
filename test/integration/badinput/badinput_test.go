// Package badinput gives KubeStellar bad input of every kind a user can give, in one table:
// placements, customizers, inventory objects, command-line flags and arguments, kubeconfigs
// and chart values, well-formed but wrong or malformed (empty, huge, binary, NUL bytes, deep
// nesting). For each it checks what the user sees: a message that names the field and the
// fix, a refusal, a non-zero exit or a False condition; no crash and no hot retry loop; and
// that nothing else was lost or changed.
package badinput

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }

// badInput is one bad input and what the user must see. An object case gives space and
// object, and wants either refused or condition; a command case gives cmd (and files), and
// wants stderr.
type badInput struct {
	name string

	// space is the space an object is created in, object the object as YAML.
	space, object string
	// refused is in the API server's refusal of the object.
	refused string
	// condition is the condition the object gets when the server takes it; on the
	// EdgePlacement named conditionOn, in the same space, when that is set.
	condition   *wantCondition
	conditionOn string

	// cmd is a command and its arguments, run in a folder of its own holding files. In the
	// arguments, {kubeconfig} is a working kubeconfig for the root space.
	cmd   []string
	files map[string][]byte
	// stderr is in what the command prints when it fails.
	stderr string
	// usage says the command also prints its usage, as for a bad flag or argument count.
	usage bool
}

type wantCondition struct{ Type, Reason, Message string }

// The spaces of the test.
const (
	wmwPath = "root:wmw1"
	imwPath = "root:imw1"
)

func TestBadInput(t *testing.T) {
	bin := framework.BuildCommands(t, "kubectl-kubestellar", "kubestellar", "kubestellar-syncer", "switch-domain",
		"kubestellar-space-server", "placement-translator")
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithAPI("espw")
	imw1 := srv.CreateSpaceWithAPI("imw1")
	srv.CreateSpaceWithAPI("wmw1")
	ctx := t.Context()
	wmw, imw, espw := srv.Client(wmwPath), srv.Client(imwPath), srv.Client("root:espw")

	controllers := []*framework.Controller{
		framework.StartController(t, srv, "mailbox-controller", framework.SetupFunc(mailbox.Setup, mailbox.Options{ESPWPath: "root:espw", Concurrency: 4})),
		framework.StartController(t, srv, "kubestellar-where-resolver", framework.SetupFunc(where.Setup, where.Options{Concurrency: 4})),
		framework.StartController(t, srv, "placement-translator", framework.SetupFunc(placement.Setup, placement.Options{ESPWPath: "root:espw", Concurrency: 4})),
	}

	// What must survive every case: a placement that delivers a ConfigMap to one SyncTarget.
	keep := framework.EnsureLocation(t, imw, "keep", map[string]string{"env": "keep"})
	box := mailbox.Name(imw1.Status.Cluster, keep.UID)
	require.NoError(t, wmw.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}}))
	require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: "app"}, Data: map[string]string{"k": "v"}}))
	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "keep"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "keep"}}},
			Downsync:          []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps", "namespaces"}, Namespaces: []string{"app"}, ObjectNames: []string{"app", "kept", "later"}}},
		},
	}))
	// Objects labeled case=custom go, customized, to the same SyncTarget and one more.
	framework.EnsureLocation(t, imw, "keep2", map[string]string{"env": "keep2"})
	require.NoError(t, wmw.Create(ctx, &edgev2alpha1.EdgePlacement{
		ObjectMeta: metav1.ObjectMeta{Name: "custom"},
		Spec: edgev2alpha1.EdgePlacementSpec{
			LocationSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"keep", "keep2"}}}}},
			Downsync: []edgev2alpha1.DownsyncObjectTest{{APIGroup: ptr.To(""), Resources: []string{"configmaps"}, Namespaces: []string{"app"},
				LabelSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"case": "custom"}}}}},
		},
	}))
	for name, r := range map[string]edgev2alpha1.Replacement{
		"unparsable": {Path: "$.data[", Value: apiextensionsv1.JSON{Raw: []byte(`"x"`)}},
		"parameter":  {Path: "$.data.k", Value: apiextensionsv1.JSON{Raw: []byte(`"%(nolabel)"`)}},
		"rename":     {Path: "$.metadata.name", Value: apiextensionsv1.JSON{Raw: []byte(`"other"`)}},
	} {
		require.NoError(t, wmw.Create(ctx, &edgev2alpha1.Customizer{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app"}, Replacements: []edgev2alpha1.Replacement{r}}))
	}
	wrapped := func(name string) []byte {
		list := &edgev2alpha1.WrappedObjectList{}
		if err := espw.List(ctx, list, client.InNamespace(box)); err != nil {
			return nil
		}
		for i := range list.Items {
			obj, err := wrapper.Unwrap(&list.Items[i])
			if err == nil && obj.GetKind() == "ConfigMap" && obj.GetName() == name {
				return list.Items[i].Spec.Object.Raw
			}
		}
		return nil
	}
	framework.Eventually(t, 2*time.Minute, "the kept ConfigMap is in its mailbox", func() bool { return wrapped("kept") != nil })
	keptWrapper := wrapped("kept")

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	data, err := os.ReadFile(srv.Kubeconfig)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(kubeconfig, data, 0o600))

	for _, tc := range badInputs(t, srv.CAFile()) {
		t.Run(tc.name, func(t *testing.T) {
			before := sum(t, kubeconfig)
			switch {
			case tc.object != "":
				objectCase(t, srv.Client(tc.space), tc)
			case len(tc.cmd) > 0:
				commandCase(t, bin, kubeconfig, tc)
			default:
				t.Fatal("a case gives an object or a command")
			}
			assert.Equal(t, before, sum(t, kubeconfig), "the kubeconfig is unchanged")
			assert.Equal(t, string(keptWrapper), string(wrapped("kept")), "the kept placement's wrapper is unchanged")
		})
	}

	t.Run("the controllers still work, and never panicked", func(t *testing.T) {
		require.NoError(t, wmw.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "later", Namespace: "app"}, Data: map[string]string{"k": "v"}}))
		framework.Eventually(t, time.Minute, "an object placed after the bad input is delivered", func() bool { return wrapped("later") != nil })
		for _, c := range controllers {
			assert.NotContains(t, c.Log(), "Observed a panic", "%s panicked", c.Options.Name)
		}
		assert.Zero(t, framework.ControllerMetric(t, "controller_runtime_reconcile_panics_total", ""), "reconcile panics")
	})
}

// objectCase creates the case's object and checks the refusal or the condition, then deletes
// what was created.
func objectCase(t *testing.T, c client.Client, tc badInput) {
	ctx := t.Context()
	obj := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal([]byte(tc.object), &obj.Object), "the case's YAML")
	err := c.Create(ctx, obj)
	if tc.refused != "" {
		require.Error(t, err, "the server refuses it")
		assert.Contains(t, err.Error(), tc.refused)
		got := obj.DeepCopy()
		assert.True(t, apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(obj), got)), "nothing is stored")
		return
	}
	require.NoError(t, err, "the server takes it")
	t.Cleanup(func() { _ = c.Delete(context.Background(), obj) })
	want := tc.condition
	require.NotNil(t, want, "a case the server takes wants a condition")
	holder := obj
	if tc.conditionOn != "" {
		holder = &unstructured.Unstructured{}
		holder.SetGroupVersionKind(edgev2alpha1.SchemeGroupVersion.WithKind("EdgePlacement"))
		holder.SetName(tc.conditionOn)
	}
	key := client.ObjectKeyFromObject(holder)
	var cond *metav1.Condition
	framework.Eventually(t, time.Minute, "the "+want.Type+" condition says what is wrong", func() bool {
		if err := c.Get(ctx, key, holder); err != nil {
			return false
		}
		cond = findCondition(holder, want.Type)
		return cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == want.Reason && strings.Contains(cond.Message, want.Message)
	})
	assert.Contains(t, cond.Message, want.Message)
	// No hot loop: once the condition is there, the object is written a few times at most
	// (other controllers finish their part of its status), not again and again.
	versions := map[string]bool{}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if c.Get(ctx, key, holder) == nil {
			versions[holder.GetResourceVersion()] = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	assert.LessOrEqual(t, len(versions), 4, "versions of the object written in 3 s after its condition")
	if tc.conditionOn != "" {
		assert.Contains(t, cond.Message, " for keep2: ", "the condition names every destination that failed, not only one")
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(obj), obj))
		assert.NotContains(t, obj.GetAnnotations(), wrapper.AnnotationExecutingCount, "an object delivered nowhere is not counted as running")
	}
	require.NoError(t, c.Delete(ctx, obj))
	if tc.conditionOn != "" {
		framework.Eventually(t, time.Minute, "the placement recovers once the bad object is gone", func() bool {
			if err := c.Get(ctx, key, holder); err != nil {
				return false
			}
			cond := findCondition(holder, want.Type)
			return cond != nil && cond.Status == metav1.ConditionTrue
		})
	}
}

func findCondition(obj *unstructured.Unstructured, condType string) *metav1.Condition {
	raw, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var conds []metav1.Condition
	for _, r := range raw {
		data, err := yaml.Marshal(r)
		if err != nil {
			continue
		}
		var c metav1.Condition
		if yaml.Unmarshal(data, &c) == nil {
			conds = append(conds, c)
		}
	}
	return meta.FindStatusCondition(conds, condType)
}

// commandCase runs the case's command and checks that it fails as it should and leaves its
// input files alone.
func commandCase(t *testing.T, bin, kubeconfig string, tc badInput) {
	dir := t.TempDir()
	sums := map[string][32]byte{}
	for name, content := range tc.files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
		require.NoError(t, os.WriteFile(path, content, 0o600))
		sums[name] = sha256.Sum256(content)
	}
	args := make([]string, 0, len(tc.cmd)-1)
	for _, a := range tc.cmd[1:] {
		args = append(args, strings.ReplaceAll(a, "{kubeconfig}", kubeconfig))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r := framework.Run(ctx, dir, filepath.Join(bin, tc.cmd[0]), args...)
	var exit *exec.ExitError
	require.True(t, errors.As(r.Err, &exit), "%v exits with an error, not %v\n%s%s", tc.cmd, r.Err, r.Stdout, r.Stderr)
	assert.NotEqual(t, -1, exit.ExitCode(), "%v ends by exiting, not by a signal", tc.cmd)
	assert.NotContains(t, r.Stderr, "panic:", "no crash")
	assert.NotContains(t, r.Stderr, "goroutine ", "no crash")
	assert.Contains(t, r.Stderr, tc.stderr)
	if tc.usage {
		assert.Contains(t, r.Stdout+r.Stderr, "Usage:", "the command shows its usage")
	} else {
		assert.NotContains(t, r.Stdout+r.Stderr, "Usage:", "the usage would hide the message")
	}
	for name, want := range sums {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, "%s is still there", name)
		assert.Equal(t, want, sha256.Sum256(got), "%s is unchanged", name)
	}
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(data)
}

// Malformed content, shared by several cases.
var (
	binary     = []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0xff, 0xfe, 0x00, 0x01, 0x9c, 0x80}
	nulBytes   = []byte("apiVersion: v1\nkind: Config\x00\x00\x00clusters: []\n")
	deepYAML   = []byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n")
	hugeString = strings.Repeat("x", 4<<20)
)

// badInputs is the table. Each message names the field and says what to do.
func badInputs(t *testing.T, caFile string) []badInput {
	ep := func(name, spec string) string {
		return "apiVersion: edge.kubestellar.io/v2alpha1\nkind: EdgePlacement\nmetadata:\n  name: " + name + "\nspec:\n" + spec
	}
	custom := func(name, customizer, expand string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: app\n  labels: {case: custom}\n  annotations:\n" +
			"    edge.kubestellar.io/customizer: " + customizer + "\n    edge.kubestellar.io/expand-parameters: \"" + expand + "\"\ndata:\n  k: v\n"
	}
	noNamespace := kubeconfigWithoutNamespace()
	ca, err := os.ReadFile(caFile)
	require.NoError(t, err)
	deploy := func(values []byte, want string) badInput {
		return badInput{cmd: []string{"kubectl-kubestellar", "deploy", "--kubeconfig", "{kubeconfig}", "--external-endpoint", "ks.example.com:443", "--dry-run", "-f", "values.yaml"},
			files: map[string][]byte{"values.yaml": values}, stderr: want}
	}
	named := func(name string, b badInput) badInput { b.name = name; return b }

	return []badInput{
		// Placements the API server refuses, by the CRD's schema.
		{name: "placement: apiGroup with capitals", space: wmwPath, object: ep("bad-group", "  downsync:\n  - apiGroup: Apps\n"),
			refused: `spec.downsync[0].apiGroup: Invalid value: "Apps"`},
		{name: "placement: resource with capitals", space: wmwPath, object: ep("bad-resource", "  downsync:\n  - resources: [Deployments]\n"),
			refused: `spec.downsync[0].resources[0]: Invalid value: "Deployments"`},
		{name: "placement: upsync without names", space: wmwPath, object: ep("bad-upsync", "  upsync:\n  - resources: [sprockets]\n"),
			refused: `spec.upsync[0].names: Required value`},
		{name: "placement: eleven status collectors", space: wmwPath, object: ep("bad-collectors", "  statusCollectors: [a,b,c,d,e,f,g,h,i,j,k]\n"),
			refused: `spec.statusCollectors: Too many: 11: must have at most 10 items`},
		{name: "placement: spec is a string", space: wmwPath, object: strings.Replace(ep("bad-spec", ""), "spec:\n", "spec: everything\n", 1),
			refused: `spec: Invalid value: "string": spec in body must be of type object`},
		{name: "placement: locationSelectors is a map", space: wmwPath, object: ep("bad-selectors", "  locationSelectors:\n    env: prod\n"),
			refused: `spec.locationSelectors: Invalid value: "object": spec.locationSelectors in body must be of type array`},
		{name: "placement: huge", space: wmwPath, object: ep("huge", "  downsync:\n  - objectNames: [\""+hugeString+"\"]\n"),
			refused: `Request entity too large`},
		{name: "placement: NUL byte in a label", space: wmwPath, object: strings.Replace(ep("nul-label", "  downsync: []\n"), "  name: nul-label\n", "  name: nul-label\n  labels:\n    team: \"a\\u0000b\"\n", 1),
			refused: `metadata.labels: Invalid value: "a\x00b"`},
		{name: "placement: name with capitals", space: wmwPath, object: ep("Bad", "  downsync: []\n"),
			refused: `metadata.name: Invalid value: "Bad"`},

		// Placements the server takes and the controllers find wrong.
		{name: "placement: unknown selector operator", space: wmwPath,
			object:    ep("bad-operator", "  locationSelectors:\n  - matchExpressions:\n    - {key: env, operator: Near, values: [keep]}\n"),
			condition: &wantCondition{where.ConditionResolved, where.ReasonInvalidSelector, `spec.locationSelectors[0]: "Near" is not a valid label selector operator`}},
		{name: "placement: In without values", space: wmwPath,
			object:    ep("bad-in", "  locationSelectors:\n  - matchExpressions:\n    - {key: env, operator: In}\n"),
			condition: &wantCondition{where.ConditionResolved, where.ReasonInvalidSelector, `spec.locationSelectors[0]: values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty`}},
		{name: "placement: selector key with a space", space: wmwPath,
			object:    ep("bad-key", "  locationSelectors:\n  - matchLabels: {\"env x\": keep}\n"),
			condition: &wantCondition{where.ConditionResolved, where.ReasonInvalidSelector, `spec.locationSelectors[0]: key: Invalid value: "env x"`}},
		{name: "placement: Exists with values", space: wmwPath,
			object:    ep("bad-exists", "  locationSelectors:\n  - matchExpressions:\n    - {key: env, operator: Exists, values: [keep]}\n"),
			condition: &wantCondition{where.ConditionResolved, where.ReasonInvalidSelector, `spec.locationSelectors[0]: values: Invalid value: ["keep"]: values set must be empty for exists and does not exist`}},
		{name: "placement: invalid downsync label selector", space: wmwPath,
			object:    ep("bad-downsync-labels", "  locationSelectors:\n  - matchLabels: {env: keep}\n  downsync:\n  - labelSelectors:\n    - matchExpressions:\n      - {key: app, operator: Near}\n"),
			condition: &wantCondition{placement.ConditionDelivered, placement.ReasonInvalidDownsync, `spec.downsync[0].labelSelectors[0]: "Near" is not a valid label selector operator`}},
		{name: "placement: invalid downsync namespace selector", space: wmwPath,
			object:    ep("bad-downsync-ns", "  locationSelectors:\n  - matchLabels: {env: keep}\n  downsync:\n  - namespaceSelectors:\n    - matchLabels: {\"a b\": c}\n"),
			condition: &wantCondition{placement.ConditionDelivered, placement.ReasonInvalidDownsync, `spec.downsync[0].namespaceSelectors[0]: key: Invalid value: "a b"`}},
		{name: "placement: status collector that does not exist", space: wmwPath,
			object:    ep("missing-collector", "  locationSelectors:\n  - matchLabels: {env: keep}\n  downsync:\n  - objectNames: [none]\n  statusCollectors: [nowhere]\n"),
			condition: &wantCondition{placement.ConditionStatusCollected, placement.ReasonCollectorNotFound, `nowhere`}},

		// Customizers and objects that use them.
		{name: "customizer: path without $.", space: wmwPath,
			object:  "apiVersion: edge.kubestellar.io/v2alpha1\nkind: Customizer\nmetadata: {name: bad-path, namespace: app}\nreplacements:\n- {path: spec.replicas, value: 2}\n",
			refused: `replacements[0].path: Invalid value: "spec.replicas"`},
		{name: "customizer: replacement without value", space: wmwPath,
			object:  "apiVersion: edge.kubestellar.io/v2alpha1\nkind: Customizer\nmetadata: {name: no-value, namespace: app}\nreplacements:\n- {path: $.data.k}\n",
			refused: `replacements[0].value: Required value`},
		{name: "customizer: replacements is a string", space: wmwPath,
			object:  "apiVersion: edge.kubestellar.io/v2alpha1\nkind: Customizer\nmetadata: {name: str, namespace: app}\nreplacements: all\n",
			refused: `replacements: Invalid value: "string"`},

		{name: "object: names a Customizer that does not exist", space: wmwPath, object: custom("c1", "nowhere", "false"), conditionOn: "custom",
			condition: &wantCondition{placement.ConditionDelivered, placement.ReasonCustomizationFailed, `ConfigMap app/c1 for keep: customizer app/nowhere: Customizer.edge.kubestellar.io "nowhere" not found`}},
		{name: "object: Customizer path that does not parse", space: wmwPath, object: custom("c2", "unparsable", "false"), conditionOn: "custom",
			condition: &wantCondition{placement.ConditionDelivered, placement.ReasonCustomizationFailed, `ConfigMap app/c2 for keep: replacements[0].path "$.data[": unterminated array`}},
		{name: "object: parameter the Location does not have", space: wmwPath, object: custom("c3", "parameter", "true"), conditionOn: "custom",
			condition: &wantCondition{placement.ConditionDelivered, placement.ReasonCustomizationFailed, `ConfigMap app/c3 for keep: replacements[0].value: parameter %(nolabel) is neither a label nor an annotation of the destination Location`}},
		{name: "object: Customizer that renames the object", space: wmwPath, object: custom("c4", "rename", "false"), conditionOn: "custom",
			condition: &wantCondition{placement.ConditionDelivered, placement.ReasonCustomizationFailed, `ConfigMap app/c4 for keep: replacements[0].path "$.metadata.name" changes the object's identity (v1 ConfigMap app/c4 to v1 ConfigMap app/other)`}},
		{name: "object: customizer annotation with two slashes", space: wmwPath, object: custom("c6", "a/b/c", "false"), conditionOn: "custom",
			condition: &wantCondition{placement.ConditionDelivered, placement.ReasonCustomizationFailed, `annotation edge.kubestellar.io/customizer "a/b/c": name "b/c": `}},

		// StatusCollectors.
		{name: "status collector: select and combinedFields", space: wmwPath,
			object:  "apiVersion: edge.kubestellar.io/v2alpha1\nkind: StatusCollector\nmetadata: {name: both}\nspec:\n  select: [{name: a, def: obj.status}]\n  combinedFields: [{name: count, type: COUNT}]\n",
			refused: `exactly one of spec.select and spec.combinedFields must be given`},
		{name: "status collector: SUM without subject", space: wmwPath,
			object:  "apiVersion: edge.kubestellar.io/v2alpha1\nkind: StatusCollector\nmetadata: {name: sum}\nspec:\n  combinedFields: [{name: total, type: SUM}]\n",
			refused: `subject is required unless type is COUNT`},
		{name: "status collector: unknown aggregator", space: wmwPath,
			object:  "apiVersion: edge.kubestellar.io/v2alpha1\nkind: StatusCollector\nmetadata: {name: median}\nspec:\n  combinedFields: [{name: middle, type: MEDIAN, subject: obj.x}]\n",
			refused: `spec.combinedFields[0].type: Unsupported value: "MEDIAN"`},

		// Inventory.
		{name: "location: resource other than synctargets", space: imwPath,
			object:  "apiVersion: edge.kubestellar.io/v2alpha1\nkind: Location\nmetadata: {name: bad-resource}\nspec:\n  resource: {group: edge.kubestellar.io, version: v2alpha1, resource: clusters}\n  instanceSelector: {}\n",
			refused: `spec.resource.resource: Unsupported value: "clusters"`},
		{name: "location: group of another API", space: imwPath,
			object:  "apiVersion: edge.kubestellar.io/v2alpha1\nkind: Location\nmetadata: {name: bad-group}\nspec:\n  resource: {group: apps, version: v2alpha1, resource: synctargets}\n  instanceSelector: {}\n",
			refused: `spec.resource.group: Unsupported value: "apps"`},
		{name: "synctarget: name too long", space: imwPath,
			object:  "apiVersion: edge.kubestellar.io/v2alpha1\nkind: SyncTarget\nmetadata: {name: " + strings.Repeat("a", 254) + "}\n",
			refused: `metadata.name: Invalid value:`},
		{name: "space: name with capitals", space: "root",
			object:  "apiVersion: space.kubestellar.io/v1alpha1\nkind: Space\nmetadata: {name: Team}\n",
			refused: `metadata.name must be a DNS label`},

		// Commands: flags and arguments.
		named("ensure location: name with capitals and underscore", badInput{cmd: []string{"kubectl-kubestellar", "ensure", "location", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "Bad_Name"}, stderr: `"Bad_Name"`}),
		named("ensure location: label without a value", badInput{cmd: []string{"kubectl-kubestellar", "ensure", "location", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "x", "env"}, stderr: `label "env" must be key=value`}),
		named("ensure location: label value too long", badInput{cmd: []string{"kubectl-kubestellar", "ensure", "location", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "x", "env=" + strings.Repeat("v", 64)}, stderr: `of "env": must be no more than 63 bytes`}),
		named("ensure location: NUL byte in a label", badInput{cmd: []string{"kubectl-kubestellar", "ensure", "location", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "x", "env=a\x01b"}, stderr: `label value "a\x01b" of "env": a valid label must be`}),
		named("ensure location: unknown flag", badInput{cmd: []string{"kubectl-kubestellar", "ensure", "location", "--kubeconfig", "{kubeconfig}", "--bogus", "x"}, stderr: `unknown flag: --bogus`, usage: true}),
		named("ensure location: no name", badInput{cmd: []string{"kubectl-kubestellar", "ensure", "location", "--kubeconfig", "{kubeconfig}"}, stderr: `requires at least 1 arg(s)`, usage: true}),
		named("ensure wmw: name with capitals", badInput{cmd: []string{"kubectl-kubestellar", "ensure", "wmw", "--kubeconfig", "{kubeconfig}", "Team"}, stderr: `"Team"`}),
		named("ws: path that is not one", badInput{cmd: []string{"kubectl-kubestellar", "ws", "--kubeconfig", "{kubeconfig}", "root:Bad!"}, stderr: `"root:Bad!"`}),
		named("prep-for-syncer: --wec-rules file missing", badInput{cmd: []string{"kubectl-kubestellar", "prep-for-syncer", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "--wec-rules", "rules.yaml", "keep"}, stderr: `--wec-rules: reading rules.yaml: open rules.yaml: no such file or directory`}),
		named("prep-for-syncer: --wec-rules empty", badInput{cmd: []string{"kubectl-kubestellar", "prep-for-syncer", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "--wec-rules", "rules.yaml", "keep"}, files: map[string][]byte{"rules.yaml": nil}, stderr: `--wec-rules rules.yaml`}),
		named("prep-for-syncer: --wec-rules binary", badInput{cmd: []string{"kubectl-kubestellar", "prep-for-syncer", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "--wec-rules", "rules.yaml", "keep"}, files: map[string][]byte{"rules.yaml": binary}, stderr: `--wec-rules rules.yaml`}),
		named("prep-for-syncer: --wec-rules deeply nested", badInput{cmd: []string{"kubectl-kubestellar", "prep-for-syncer", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "--wec-rules", "rules.yaml", "keep"}, files: map[string][]byte{"rules.yaml": deepYAML}, stderr: `--wec-rules rules.yaml`}),
		named("prep-for-syncer: --wec-rules a bare list", badInput{cmd: []string{"kubectl-kubestellar", "prep-for-syncer", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "--wec-rules", "rules.yaml", "keep"},
			files: map[string][]byte{"rules.yaml": []byte("- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [get]\n")}, stderr: `--wec-rules rules.yaml: not a YAML document with a rules field (a ClusterRole's rules)`}),
		named("prep-for-syncer: --wec-rules with an unknown verb", badInput{cmd: []string{"kubectl-kubestellar", "prep-for-syncer", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "--wec-rules", "rules.yaml", "keep"},
			files: map[string][]byte{"rules.yaml": []byte("rules:\n- apiGroups: [apps]\n  resources: [deployments]\n  verbs: [gets]\n")}, stderr: `--wec-rules rules.yaml: rules[0].verbs: "gets" is not a verb the syncer uses; give some of get, list, watch`}),
		named("prep-for-syncer: SyncTarget that does not exist", badInput{cmd: []string{"kubectl-kubestellar", "prep-for-syncer", "--kubeconfig", "{kubeconfig}", "--imw", imwPath, "--timeout", "2s", "nowhere"}, stderr: `nowhere`}),
		named("deploy: no --external-endpoint", badInput{cmd: []string{"kubectl-kubestellar", "deploy", "--kubeconfig", "{kubeconfig}", "--dry-run"}, stderr: `--external-endpoint is required`}),
		named("deploy: endpoint without port", badInput{cmd: []string{"kubectl-kubestellar", "deploy", "--kubeconfig", "{kubeconfig}", "--dry-run", "--external-endpoint", "ks.example.com"}, stderr: `--external-endpoint "ks.example.com" must be host:port`}),
		named("deploy: endpoint port 0", badInput{cmd: []string{"kubectl-kubestellar", "deploy", "--kubeconfig", "{kubeconfig}", "--dry-run", "--external-endpoint", "ks.example.com:0"}, stderr: `the port must be a number from 1 to 65535`}),
		named("deploy: --timeout that is not a duration", badInput{cmd: []string{"kubectl-kubestellar", "deploy", "--kubeconfig", "{kubeconfig}", "--timeout", "soon"}, stderr: `invalid argument "soon" for "--timeout"`, usage: true}),
		named("init: --ensure-imw that is not a path", badInput{cmd: []string{"kubestellar", "init", "--kubeconfig", "{kubeconfig}", "--local-kcp=false", "--ensure-imw", "imw1"}, stderr: `--ensure-imw: "imw1" is not a space path such as root:imw1`, usage: true}),
		named("start: argument where none is taken", badInput{cmd: []string{"kubestellar", "start", "now"}, stderr: `unknown command "now"`, usage: true}),
		named("syncer: no --from-kubeconfig", badInput{cmd: []string{"kubestellar-syncer"}, stderr: `--from-kubeconfig is required`, usage: true}),
		named("syncer: --concurrency 0", badInput{cmd: []string{"kubestellar-syncer", "--from-kubeconfig", "{kubeconfig}", "--concurrency", "0"}, stderr: `--concurrency 0 must be at least 1`, usage: true}),
		named("syncer: --qps negative", badInput{cmd: []string{"kubestellar-syncer", "--from-kubeconfig", "{kubeconfig}", "--qps", "-5"}, stderr: `--qps -5 must be positive`, usage: true}),
		named("syncer: mailbox kubeconfig without a namespace", badInput{cmd: []string{"kubestellar-syncer", "--from-kubeconfig", "mailbox.kubeconfig", "--to-kubeconfig", "mailbox.kubeconfig"},
			files: map[string][]byte{"mailbox.kubeconfig": noNamespace}, stderr: `context "c" sets no namespace, and that namespace is the mailbox: set it in the context`, usage: true}),
		named("placement-translator: --concurrency 0", badInput{cmd: []string{"placement-translator", "--concurrency", "0"}, stderr: `--concurrency 0 must be at least 1`, usage: true}),
		named("placement-translator: --metrics-bind-address without a port", badInput{cmd: []string{"placement-translator", "--metrics-bind-address", "localhost"}, stderr: `--metrics-bind-address "localhost" must be [host]:port`, usage: true}),
		named("space server: unknown flag", badInput{cmd: []string{"kubestellar-space-server", "start", "--bogus"}, stderr: `unknown flag: --bogus`, usage: true}),
		named("switch-domain: three arguments", badInput{cmd: []string{"switch-domain", "in", "out", "ctx"}, stderr: `accepts 6 arg(s), received 3`, usage: true}),
		named("switch-domain: CAFILE that is not PEM", badInput{cmd: []string{"switch-domain", "{kubeconfig}", "out", "root", "ks.example.com", "443", "ca.crt"},
			files: map[string][]byte{"ca.crt": binary}, stderr: `CAFILE ca.crt: data does not contain any valid RSA or ECDSA certificates; give the PEM file of the CA`}),
		named("switch-domain: PORT that is not a number", badInput{cmd: []string{"switch-domain", "{kubeconfig}", "out", "root", "ks.example.com", "https", "ca.crt"},
			files: map[string][]byte{"ca.crt": ca}, stderr: `port "https" is not a valid port number: give a number from 1 to 65535`}),
		named("switch-domain: context that is not there", badInput{cmd: []string{"switch-domain", "{kubeconfig}", "out", "nowhere", "ks.example.com", "443", "ca.crt"},
			files: map[string][]byte{"ca.crt": ca}, stderr: `context "nowhere" not found`}),

		// Kubeconfigs.
		named("kubeconfig: empty", badInput{cmd: []string{"kubectl-kubestellar", "ws", "tree", "--kubeconfig", "kc"}, files: map[string][]byte{"kc": nil}, stderr: `--kubeconfig kc has no current context: give a kubeconfig that reaches the KubeStellar space server`}),
		named("kubeconfig: binary", badInput{cmd: []string{"kubectl-kubestellar", "ws", "tree", "--kubeconfig", "kc"}, files: map[string][]byte{"kc": binary}, stderr: `kc`}),
		named("kubeconfig: NUL bytes", badInput{cmd: []string{"kubectl-kubestellar", "ws", "tree", "--kubeconfig", "kc"}, files: map[string][]byte{"kc": nulBytes}, stderr: `kc`}),
		named("kubeconfig: deeply nested", badInput{cmd: []string{"kubectl-kubestellar", "ws", "tree", "--kubeconfig", "kc"}, files: map[string][]byte{"kc": deepYAML}, stderr: `kc`}),
		named("kubeconfig: CA data that is not base64", badInput{cmd: []string{"kubectl-kubestellar", "ws", "tree", "--kubeconfig", "kc"},
			files:  map[string][]byte{"kc": []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', certificate-authority-data: '!!!'}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n")},
			stderr: `error loading config file "kc": illegal base64 data`}),
		named("kubeconfig: context that is not there", badInput{cmd: []string{"kubectl-kubestellar", "ws", "tree", "--kubeconfig", "{kubeconfig}", "--context", "nowhere"}, stderr: `context "nowhere"`}),
		named("syncer: mailbox kubeconfig that is binary", badInput{cmd: []string{"kubestellar-syncer", "--from-kubeconfig", "kc", "--mailbox", "m"}, files: map[string][]byte{"kc": binary}, stderr: `--from-kubeconfig: error loading config file "kc"`, usage: true}),

		// Chart values, through deploy as users give them.
		named("values: unknown key", deploy([]byte("replica: 2\n"), `additional properties 'replica' not allowed`)),
		named("values: verbosity a word", deploy([]byte("verbosity: loud\n"), "- at '/verbosity': got string, want integer")),
		named("values: etcd.tlsSecret without endpoints", deploy([]byte("etcd:\n  tlsSecret: etcd-client\n"), `etcd.tlsSecret secures an external etcd, but etcd.endpoints is empty: set etcd.endpoints`)),
		named("values: binary file", deploy(binary, `values.yaml`)),
		named("values: deeply nested", deploy(deepYAML, `values.yaml`)),
		named("values: NUL bytes", deploy(nulBytes, `values.yaml`)),
	}
}

// kubeconfigWithoutNamespace is a kubeconfig whose context sets no namespace.
func kubeconfigWithoutNamespace() []byte {
	return []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n")
}
