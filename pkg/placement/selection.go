package placement

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/where"
)

// excludedResources are never downsynced, whatever the selectors say: objects every cluster
// makes for itself, objects that only make sense where they were made, and KubeStellar's own.
var excludedResources = map[schema.GroupResource]bool{
	{Resource: "events"}:                                                   true,
	{Group: "events.k8s.io", Resource: "events"}:                           true,
	{Resource: "endpoints"}:                                                true,
	{Group: "discovery.k8s.io", Resource: "endpointslices"}:                true,
	{Group: "coordination.k8s.io", Resource: "leases"}:                     true,
	{Resource: "componentstatuses"}:                                        true,
	{Resource: "nodes"}:                                                    true,
	{Resource: "bindings"}:                                                 true,
	{Group: "apiregistration.k8s.io", Resource: "apiservices"}:             true,
	{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}: true,
	{Group: "internal.apiserver.k8s.io", Resource: "storageversions"}:      true,
	{Group: "networking.k8s.io", Resource: "ipaddresses"}:                  true,
	{Group: "networking.k8s.io", Resource: "servicecidrs"}:                 true,
}

// excludedGroups are API groups none of whose objects are downsynced.
var excludedGroups = map[string]bool{
	edgev2alpha1.GroupName:         true,
	spacev1alpha1.GroupName:        true,
	"flowcontrol.apiserver.k8s.io": true,
}

// systemNamespaces exist in every cluster and hold what each cluster makes for itself.
var systemNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

// ExcludedResource reports whether no object of the resource is ever downsynced.
func ExcludedResource(gr schema.GroupResource) bool {
	return excludedResources[gr] || excludedGroups[gr.Group]
}

// ExcludedObject reports whether obj, of resource gr, is one every cluster makes for itself.
func ExcludedObject(gr schema.GroupResource, obj *unstructured.Unstructured) bool {
	if ExcludedResource(gr) {
		return true
	}
	ns, name := obj.GetNamespace(), obj.GetName()
	switch {
	case gr == schema.GroupResource{Resource: "namespaces"}:
		return systemNamespaces[name]
	case ns == "kube-system" || ns == "kube-public" || ns == "kube-node-lease":
		return true
	case gr == schema.GroupResource{Resource: "serviceaccounts"} && name == "default":
		return true
	case gr == schema.GroupResource{Resource: "configmaps"} && name == "kube-root-ca.crt":
		return true
	case gr == schema.GroupResource{Resource: "secrets"}:
		t, _, _ := unstructured.NestedString(obj.Object, "type")
		return t == string(corev1.SecretTypeServiceAccountToken)
	case gr == schema.GroupResource{Resource: "services"} && ns == "default" && name == "kubernetes":
		return true
	case gr.Group == "rbac.authorization.k8s.io":
		return obj.GetLabels()["kubernetes.io/bootstrapping"] == "rbac-defaults" || strings.HasPrefix(name, "system:")
	case gr == schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}:
		return strings.HasPrefix(name, "system-")
	}
	return false
}

// Candidate is an object with what the tests look at.
type Candidate struct {
	GR         schema.GroupResource
	Namespaced bool
	Object     *unstructured.Unstructured
	// NamespaceLabels are the labels of the object's namespace (of the object itself, for a
	// Namespace).
	NamespaceLabels map[string]string
}

// Selects reports whether any of the tests matches the candidate.
func Selects(tests []edgev2alpha1.DownsyncObjectTest, c Candidate) bool {
	return slices.ContainsFunc(tests, func(t edgev2alpha1.DownsyncObjectTest) bool { return matches(t, c) })
}

// matches applies one test.
func matches(t edgev2alpha1.DownsyncObjectTest, c Candidate) bool {
	return testMismatch(t, c, false) == nil
}

// Mismatch says which field of a downsync test an object fails, and why.
type Mismatch struct {
	// Field is the test's field that fails: apiGroup, resources, namespaces,
	// namespaceSelectors, objectNames or labelSelectors.
	Field string `json:"field"`
	// Reason says what the object has and what the field wants.
	Reason string `json:"reason"`
}

// TestMismatch applies one test and returns the first field that fails, or nil when the test
// selects the candidate. Every field that is set must match; "*" matches anything. For a
// cluster-scoped object, namespaces and namespaceSelectors apply only to a Namespace (by its
// own name and labels); any other cluster-scoped object fails a test that sets them.
func TestMismatch(t edgev2alpha1.DownsyncObjectTest, c Candidate) *Mismatch {
	return testMismatch(t, c, true)
}

// testMismatch is TestMismatch; without why, the reason is left empty (the controllers only
// need the verdict, for every object and test, and the words cost).
func testMismatch(t edgev2alpha1.DownsyncObjectTest, c Candidate, why bool) *Mismatch {
	fail := func(field string, reason func() string) *Mismatch {
		m := &Mismatch{Field: field}
		if why {
			m.Reason = reason()
		}
		return m
	}
	if t.APIGroup != nil && *t.APIGroup != "*" && *t.APIGroup != c.GR.Group {
		return fail("apiGroup", func() string { return fmt.Sprintf("API group is %q, want %q", c.GR.Group, *t.APIGroup) })
	}
	if !listMatches(t.Resources, c.GR.Resource) {
		return fail("resources", func() string {
			return fmt.Sprintf("resource is %q, want one of [%s]", c.GR.Resource, strings.Join(t.Resources, " "))
		})
	}
	ns := c.Object.GetNamespace()
	isNamespace := c.GR == schema.GroupResource{Resource: "namespaces"}
	if isNamespace {
		ns = c.Object.GetName()
	}
	if len(t.Namespaces) > 0 || len(t.NamespaceSelectors) > 0 {
		if !c.Namespaced && !isNamespace {
			return fail("namespaces", func() string { return "the object is cluster-scoped, and the test selects by namespace" })
		}
		if !listMatches(t.Namespaces, ns) {
			return fail("namespaces", func() string {
				return fmt.Sprintf("namespace %q is not one of [%s]", ns, strings.Join(t.Namespaces, " "))
			})
		}
		if !anySelectorMatches(t.NamespaceSelectors, c.NamespaceLabels) {
			return fail("namespaceSelectors", func() string {
				return fmt.Sprintf("namespace %q: %s", ns, selectorsMismatch("namespaceSelectors", t.NamespaceSelectors, c.NamespaceLabels))
			})
		}
	}
	if !listMatches(t.ObjectNames, c.Object.GetName()) {
		return fail("objectNames", func() string {
			return fmt.Sprintf("name %q is not one of [%s]", c.Object.GetName(), strings.Join(t.ObjectNames, " "))
		})
	}
	if !anySelectorMatches(t.LabelSelectors, c.Object.GetLabels()) {
		return fail("labelSelectors", func() string { return selectorsMismatch("labelSelectors", t.LabelSelectors, c.Object.GetLabels()) })
	}
	return nil
}

func listMatches(list []string, v string) bool {
	return len(list) == 0 || slices.Contains(list, "*") || slices.Contains(list, v)
}

// anySelectorMatches is true for no selectors; an invalid selector matches nothing.
func anySelectorMatches(selectors []metav1.LabelSelector, l map[string]string) bool {
	if len(selectors) == 0 {
		return true
	}
	for i := range selectors {
		s, err := where.CompileLabelSelector(&selectors[i])
		if err == nil && s.Matches(l) {
			return true
		}
	}
	return false
}

// selectorsMismatch says why each of the selectors, none of which matches, fails.
func selectorsMismatch(field string, selectors []metav1.LabelSelector, l map[string]string) string {
	reasons := make([]string, 0, len(selectors))
	for i := range selectors {
		s, err := where.CompileLabelSelector(&selectors[i])
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s[%d]: invalid: %v", field, i, err))
			continue
		}
		reasons = append(reasons, fmt.Sprintf("%s[%d]: %s", field, i, s.Mismatch(l)))
	}
	return strings.Join(reasons, "; ")
}

// TestCouldSelect reports whether a test could select objects of the resource, for choosing
// what to watch.
func TestCouldSelect(t edgev2alpha1.DownsyncObjectTest, gr schema.GroupResource) bool {
	if ExcludedResource(gr) {
		return false
	}
	if t.APIGroup != nil && *t.APIGroup != "*" && *t.APIGroup != gr.Group {
		return false
	}
	return listMatches(t.Resources, gr.Resource)
}

// TestsCouldSelect reports whether any of the tests could select objects of the resource.
func TestsCouldSelect(tests []edgev2alpha1.DownsyncObjectTest, gr schema.GroupResource) bool {
	for _, t := range tests {
		if TestCouldSelect(t, gr) {
			return true
		}
	}
	return false
}
