// Package explain tells why an EdgePlacement places what it places: for every Location its
// locationSelectors could reach, whether it is chosen (and when not, which selector term
// fails on which label), and for every workload object its downsync tests could concern,
// which test selects it (and when none does, which field of each test fails). It uses the
// very matching functions of the where-resolver and the placement translator, so what it
// says is what they do.
package explain

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/where"
)

// Spaces is what Placement needs of the space server: the spaces there and a client
// configuration for each.
type Spaces interface {
	// List returns the path of every space.
	List(ctx context.Context) ([]string, error)
	// Config returns the client configuration of the space at path.
	Config(path string) *rest.Config
}

// Report is the explanation of one placement. Its JSON form is stable: fields are only ever
// added.
type Report struct {
	// Placement is the EdgePlacement's name.
	Placement string `json:"placement"`
	// Space is the path of the workload management space holding it.
	Space string `json:"space"`
	// Resolved is the where-resolver's Resolved condition, when it has set one.
	Resolved *metav1.Condition `json:"resolved,omitempty"`
	// LocationSelectors is how many selectors spec.locationSelectors has.
	LocationSelectors int `json:"locationSelectors"`
	// DownsyncTests is how many tests spec.downsync has.
	DownsyncTests int `json:"downsyncTests"`
	// LocationSelectorError says why the locationSelectors cannot be evaluated (then no
	// Location is chosen and Locations is empty).
	LocationSelectorError string `json:"locationSelectorError,omitempty"`
	// Locations are every Location in every inventory space, by space path and name.
	Locations []Location `json:"locations"`
	// UnreadableSpaces are the spaces whose Locations could not be read: what they hold is
	// not known, so the where-resolver keeps what it had found there.
	UnreadableSpaces []SpaceError `json:"unreadableSpaces,omitempty"`
	// Destinations is how many SyncTargets the chosen Locations hold.
	Destinations int `json:"destinations"`
	// Objects are the workload objects the downsync tests could concern, by API group,
	// resource, namespace and name.
	Objects []Object `json:"objects"`
}

// SpaceError says why a space could not be read.
type SpaceError struct {
	// Space is the space's path.
	Space string `json:"space"`
	// Error is what went wrong.
	Error string `json:"error"`
}

// Location is what the placement makes of one Location.
type Location struct {
	// Space is the path of the inventory space holding the Location.
	Space string `json:"space"`
	// Name is the Location's name.
	Name string `json:"name"`
	// Selected says whether the placement chooses it.
	Selected bool `json:"selected"`
	// SelectedBy are the indexes, in spec.locationSelectors, of the selectors matching it.
	SelectedBy []int `json:"selectedBy,omitempty"`
	// NotSelected says, for every selector, why it does not match (when Selected is false).
	NotSelected []where.TermMismatch `json:"notSelected,omitempty"`
	// SyncTargets are the SyncTargets its instanceSelector picks, by name.
	SyncTargets []string `json:"syncTargets"`
	// SyncTargetProblem says why it picks no SyncTarget.
	SyncTargetProblem string `json:"syncTargetProblem,omitempty"`
}

// Object is what the placement makes of one workload object.
type Object struct {
	// Group is the object's API group ("" is the core group).
	Group string `json:"group"`
	// Resource is the lowercase plural resource name.
	Resource string `json:"resource"`
	// Namespace is the object's namespace; empty for a cluster-scoped object.
	Namespace string `json:"namespace,omitempty"`
	// Name is the object's name.
	Name string `json:"name"`
	// Selected says whether the placement downsyncs it.
	Selected bool `json:"selected"`
	// SelectedBy are the indexes, in spec.downsync, of the tests selecting it.
	SelectedBy []int `json:"selectedBy,omitempty"`
	// WithSelectedObjects says a Namespace goes because objects selected in it go.
	WithSelectedObjects bool `json:"withSelectedObjects,omitempty"`
	// NotSelected says, for every test, which field fails (when Selected is false).
	NotSelected []TestMismatch `json:"notSelected,omitempty"`
}

// TestMismatch says why one downsync test does not select an object.
type TestMismatch struct {
	// Test is the test's index in spec.downsync.
	Test int `json:"test"`
	placement.Mismatch
}

// Placement explains the placement name in the workload management space at wmwPath.
func Placement(ctx context.Context, sp Spaces, wmwPath, name string) (*Report, error) {
	wmwConfig := sp.Config(wmwPath)
	wmw, err := client.New(wmwConfig, client.Options{Scheme: apis.NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to space %s: %w", wmwPath, err)
	}
	ep := &edgev2alpha1.EdgePlacement{}
	if err := wmw.Get(ctx, client.ObjectKey{Name: name}, ep); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("no EdgePlacement %q in space %s (list them with: kubectl get edgeplacements)", name, wmwPath)
		}
		return nil, fmt.Errorf("reading EdgePlacement %s in %s: %w", name, wmwPath, err)
	}
	r := &Report{
		Placement: name, Space: wmwPath, Locations: []Location{}, Objects: []Object{},
		LocationSelectors: len(ep.Spec.LocationSelectors), DownsyncTests: len(ep.Spec.Downsync),
	}
	r.Resolved = meta.FindStatusCondition(ep.Status.Conditions, where.ConditionResolved)

	selectors, err := where.CompileLocationSelectors(ep.Spec.LocationSelectors)
	if err != nil {
		r.LocationSelectorError = err.Error()
	} else if err := r.explainLocations(ctx, sp, selectors); err != nil {
		return nil, err
	}
	if err := r.explainObjects(ctx, wmw, wmwConfig, ep.Spec.Downsync); err != nil {
		return nil, err
	}
	return r, nil
}

// explainLocations looks at every Location in every space that serves Locations.
func (r *Report) explainLocations(ctx context.Context, sp Spaces, selectors where.LocationSelectors) error {
	paths, err := sp.List(ctx)
	if err != nil {
		return err
	}
	slices.Sort(paths)
	for _, path := range paths {
		c, err := client.New(sp.Config(path), client.Options{Scheme: apis.NewScheme()})
		if err != nil {
			return fmt.Errorf("connecting to space %s: %w", path, err)
		}
		locations := &edgev2alpha1.LocationList{}
		if err := c.List(ctx, locations); err != nil {
			if meta.IsNoMatchError(err) {
				continue // not an inventory space
			}
			// One space that does not answer (still starting, say) leaves the rest to say.
			r.UnreadableSpaces = append(r.UnreadableSpaces, SpaceError{Space: path, Error: fmt.Sprintf("listing Locations: %v", err)})
			continue
		}
		if len(locations.Items) == 0 {
			continue
		}
		targets := &edgev2alpha1.SyncTargetList{}
		if err := c.List(ctx, targets); err != nil && !meta.IsNoMatchError(err) {
			r.UnreadableSpaces = append(r.UnreadableSpaces, SpaceError{Space: path, Error: fmt.Sprintf("listing SyncTargets: %v", err)})
			continue
		}
		slices.SortFunc(locations.Items, func(a, b edgev2alpha1.Location) int { return strings.Compare(a.Name, b.Name) })
		for i := range locations.Items {
			loc := explainLocation(path, &locations.Items[i], selectors, targets.Items)
			if loc.Selected {
				r.Destinations += len(loc.SyncTargets)
			}
			r.Locations = append(r.Locations, loc)
		}
	}
	return nil
}

func explainLocation(path string, loc *edgev2alpha1.Location, selectors where.LocationSelectors, targets []edgev2alpha1.SyncTarget) Location {
	out := Location{Space: path, Name: loc.Name, SyncTargets: []string{}}
	out.SelectedBy = selectors.Matching(loc.Labels)
	out.Selected = len(out.SelectedBy) > 0
	if !out.Selected {
		out.NotSelected = selectors.Mismatches(loc.Labels)
	}
	instances, err := where.CompileLabelSelector(loc.Spec.InstanceSelector)
	if err != nil {
		out.SyncTargetProblem = fmt.Sprintf("its spec.instanceSelector is invalid: %v", err)
		return out
	}
	var reasons []string
	for i := range targets {
		st := &targets[i]
		if !st.DeletionTimestamp.IsZero() {
			continue // the where-resolver skips a SyncTarget being deleted
		}
		if instances.Matches(st.Labels) {
			out.SyncTargets = append(out.SyncTargets, st.Name)
		} else if len(reasons) < 3 {
			reasons = append(reasons, fmt.Sprintf("SyncTarget %q: %s", st.Name, instances.Mismatch(st.Labels)))
		}
	}
	slices.Sort(out.SyncTargets)
	if len(out.SyncTargets) == 0 {
		out.SyncTargetProblem = "its spec.instanceSelector selects no SyncTarget"
		if len(reasons) > 0 {
			out.SyncTargetProblem += ": " + strings.Join(reasons, "; ")
		}
	}
	return out
}

// explainObjects looks at every object in the workload management space that is not one
// every cluster makes for itself.
func (r *Report) explainObjects(ctx context.Context, wmw client.Client, cfg *rest.Config, tests []edgev2alpha1.DownsyncObjectTest) error {
	resources, err := listableResources(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("connecting to space %s: %w", r.Space, err)
	}
	namespaceLabels := map[string]map[string]string{}
	nsList := &unstructured.UnstructuredList{}
	nsList.SetAPIVersion("v1")
	nsList.SetKind("NamespaceList")
	if err := wmw.List(ctx, nsList); err != nil {
		return fmt.Errorf("listing namespaces in %s: %w", r.Space, err)
	}
	for _, ns := range nsList.Items {
		namespaceLabels[ns.GetName()] = ns.GetLabels()
	}

	type namespaceObject struct {
		Object
		concerned bool
	}
	var namespaceObjects []namespaceObject
	withSelected := map[string]bool{}
	for _, res := range resources {
		objs, err := listAll(ctx, dyn.Resource(res.gvr))
		if err != nil {
			return fmt.Errorf("listing %s in %s: %w", res.gr(), r.Space, err)
		}
		for i := range objs {
			obj := &objs[i]
			gr := res.gr()
			if !obj.GetDeletionTimestamp().IsZero() || placement.ExcludedObject(gr, obj) {
				continue
			}
			cand := placement.Candidate{GR: gr, Namespaced: res.namespaced, Object: obj}
			if gr == (schema.GroupResource{Resource: "namespaces"}) {
				cand.NamespaceLabels = obj.GetLabels()
			} else if res.namespaced {
				cand.NamespaceLabels = namespaceLabels[obj.GetNamespace()]
			}
			o, concerned := explainObject(tests, cand)
			if o.Selected && res.namespaced {
				withSelected[obj.GetNamespace()] = true
			}
			if gr == (schema.GroupResource{Resource: "namespaces"}) {
				namespaceObjects = append(namespaceObjects, namespaceObject{o, concerned})
				continue
			}
			if concerned {
				r.Objects = append(r.Objects, o)
			}
		}
	}
	// A namespace travels with the objects selected in it, as the placement translator sends it.
	for _, o := range namespaceObjects {
		switch {
		case o.Selected || o.concerned && !withSelected[o.Name]:
			r.Objects = append(r.Objects, o.Object)
		case withSelected[o.Name]:
			o.Selected, o.WithSelectedObjects, o.NotSelected = true, true, nil
			r.Objects = append(r.Objects, o.Object)
		}
	}
	slices.SortFunc(r.Objects, func(a, b Object) int {
		return strings.Compare(a.Group+"\x00"+a.Resource+"\x00"+a.Namespace+"\x00"+a.Name, b.Group+"\x00"+b.Resource+"\x00"+b.Namespace+"\x00"+b.Name)
	})
	return nil
}

// explainObject applies every test to the candidate. The object concerns the placement when a
// test selects it, when a test's apiGroup and resources cover it, or when a test that names
// objects by name or labels fails it only by apiGroup or resources (a likely slip of the
// group or the resource name).
func explainObject(tests []edgev2alpha1.DownsyncObjectTest, c placement.Candidate) (Object, bool) {
	o := Object{Group: c.GR.Group, Resource: c.GR.Resource, Namespace: c.Object.GetNamespace(), Name: c.Object.GetName()}
	concerned := false
	var mismatches []TestMismatch
	for i, t := range tests {
		m := placement.TestMismatch(t, c)
		if m == nil {
			o.SelectedBy = append(o.SelectedBy, i)
			continue
		}
		mismatches = append(mismatches, TestMismatch{Test: i, Mismatch: *m})
		if placement.TestCouldSelect(t, c.GR) {
			concerned = true
			continue
		}
		anyResource := t
		anyResource.APIGroup, anyResource.Resources = nil, nil
		if placement.TestMismatch(anyResource, c) == nil && singlesOut(t) {
			concerned = true
		}
	}
	o.Selected = len(o.SelectedBy) > 0
	if o.Selected {
		return o, true
	}
	o.NotSelected = mismatches
	return o, concerned
}

// singlesOut reports whether a test names objects by name or labels: only then does an
// object that passes all of it but the apiGroup or resources look meant.
func singlesOut(t edgev2alpha1.DownsyncObjectTest) bool {
	return len(t.ObjectNames) > 0 || len(t.LabelSelectors) > 0
}

type resource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

func (r resource) gr() schema.GroupResource { return r.gvr.GroupResource() }

// listableResources returns the preferred version of every resource of the space that can be
// listed and could ever be downsynced.
func listableResources(cfg *rest.Config) ([]resource, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		// Part of the API is unknown: an explanation without it would mislead.
		return nil, fmt.Errorf("discovering the resources of %s: %w", cfg.Host, err)
	}
	var out []resource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		for _, res := range l.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: res.Name}
			if strings.Contains(res.Name, "/") || !slices.Contains(res.Verbs, "list") || placement.ExcludedResource(gr) {
				continue
			}
			out = append(out, resource{gvr: gv.WithResource(res.Name), namespaced: res.Namespaced})
		}
	}
	slices.SortFunc(out, func(a, b resource) int { return strings.Compare(a.gvr.String(), b.gvr.String()) })
	return out, nil
}

// listAll lists every object of a resource, page by page.
func listAll(ctx context.Context, ri dynamic.ResourceInterface) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := ri.List(ctx, opts)
		if err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
				return out, nil // gone since discovery
			}
			return nil, err
		}
		out = append(out, list.Items...)
		if list.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = list.GetContinue()
	}
}
