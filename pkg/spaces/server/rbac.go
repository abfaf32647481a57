package server

import (
	"context"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	rbacac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// rbacFieldManager owns, by server-side apply, the RBAC objects of the component identities.
const rbacFieldManager = "kubestellar-space-server"

// The API groups the components' rules name.
const (
	groupCore          = ""
	groupEdge          = "edge.kubestellar.io"
	groupSpace         = "space.kubestellar.io"
	groupAPIExtensions = "apiextensions.k8s.io"
	groupCoordination  = "coordination.k8s.io"
	groupEvents        = "events.k8s.io"
	groupAuthn         = "authentication.k8s.io"
	groupAuthz         = "authorization.k8s.io"
)

var (
	read         = []string{"get", "list", "watch"}
	recordEvents = []string{"create", "patch", "update"}
)

func rule(groups, resources, verbs []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs}
}

// spaceKind is what a space is for, as far as the components' rights go there.
type spaceKind int

const (
	kindRoot spaceKind = iota
	kindCore
	kindInventory
	kindWorkload
	// kindGeneral is a space of no known role: it may be used as any of the others.
	kindGeneral
)

func kindOf(path, role string) spaceKind {
	switch {
	case path == spaces.RootPath:
		return kindRoot
	case role == spacev1alpha1.RoleCore:
		return kindCore
	case role == spacev1alpha1.RoleInventory:
		return kindInventory
	case role == spacev1alpha1.RoleWorkload:
		return kindWorkload
	default:
		return kindGeneral
	}
}

// ComponentRules returns the RBAC rules that component gets in the space at path whose Space
// has the given role label ("" for none). Reads of the KubeStellar kinds a controller watches
// in every space are granted in every space, so that its watches never fail; writes are
// granted only where the controller makes them. A space of no known role gets what the core,
// inventory and workload spaces get.
func ComponentRules(component, path, role string) []rbacv1.PolicyRule {
	kind := kindOf(path, role)
	if kind == kindGeneral {
		var out []rbacv1.PolicyRule
		for _, k := range []spaceKind{kindCore, kindInventory, kindWorkload} {
			out = append(out, rulesFor(component, k)...)
		}
		return out
	}
	return rulesFor(component, kind)
}

func rulesFor(component string, kind spaceKind) []rbacv1.PolicyRule {
	if component == ComponentInit {
		return initRules(kind)
	}
	// Every controller follows the spaces, refreshes its discovery when CRDs change, elects a
	// leader with a Lease and authorizes its metrics clients, all in the root space.
	rules := []rbacv1.PolicyRule{rule([]string{groupAPIExtensions}, []string{"customresourcedefinitions"}, read)}
	if kind == kindRoot {
		rules = append(rules,
			rule([]string{groupSpace}, []string{"spaces"}, read),
			rule([]string{groupCoordination}, []string{"leases"}, []string{"get", "create", "update"}),
			rule([]string{groupAuthn}, []string{"tokenreviews"}, []string{"create"}),
			rule([]string{groupAuthz}, []string{"subjectaccessreviews"}, []string{"create"}),
		)
	}
	switch component {
	case ComponentMailboxController:
		return append(rules, mailboxRules(kind)...)
	case ComponentWhereResolver:
		return append(rules, whereRules(kind)...)
	case ComponentPlacementTranslator:
		return append(rules, translatorRules(kind)...)
	}
	return nil
}

// initRules: the init step ensures Spaces in the root space and installs the KubeStellar
// API into the spaces it ensures.
func initRules(kind spaceKind) []rbacv1.PolicyRule {
	if kind == kindRoot {
		return []rbacv1.PolicyRule{rule([]string{groupSpace}, []string{"spaces"}, []string{"get", "list", "watch", "create"})}
	}
	return []rbacv1.PolicyRule{rule([]string{groupAPIExtensions}, []string{"customresourcedefinitions"},
		[]string{"get", "list", "watch", "create", "patch", "update"})}
}

// mailboxRules: the mailbox controller reads SyncTargets everywhere, annotates them and
// writes their Ready status (with an event when that changes) in inventory spaces, and keeps
// the mailbox namespaces of the core space, where it reads the syncers' heartbeats.
func mailboxRules(kind spaceKind) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{rule([]string{groupEdge}, []string{"synctargets"}, read)}
	switch kind {
	case kindInventory:
		rules = append(rules,
			rule([]string{groupEdge}, []string{"synctargets", "synctargets/status"}, []string{"patch"}),
			rule([]string{groupCore, groupEvents}, []string{"events"}, recordEvents),
		)
	case kindCore:
		rules = append(rules,
			rule([]string{groupCore}, []string{"namespaces"}, []string{"get", "list", "watch", "create", "delete"}),
			rule([]string{groupEdge}, []string{"syncerconfigs"}, read),
		)
	}
	return rules
}

// whereRules: the where-resolver reads placements, slices, Locations and SyncTargets
// everywhere, and writes slices, its part of the placements' status and an event when that
// changes in workload spaces.
func whereRules(kind spaceKind) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{rule([]string{groupEdge}, []string{"edgeplacements", "singleplacementslices", "locations", "synctargets"}, read)}
	if kind == kindWorkload {
		rules = append(rules,
			rule([]string{groupEdge}, []string{"singleplacementslices"}, []string{"create", "patch", "update"}),
			rule([]string{groupEdge}, []string{"edgeplacements/status"}, []string{"patch"}),
			// A slice's owner reference blocks its placement's deletion.
			rule([]string{groupEdge}, []string{"edgeplacements/finalizers"}, []string{"update"}),
			rule([]string{groupCore, groupEvents}, []string{"events"}, recordEvents),
		)
	}
	return rules
}

// translatorRules: the placement translator reads placements, slices, Customizers, Locations,
// StatusCollectors, CombinedStatuses and namespaces everywhere; in workload spaces it reads
// the workload objects of any kind, marks them (an annotation), writes a singleton's reported
// status back, its own part of the placements' status and the CombinedStatuses; in the core
// space it writes the wrappers and SyncerConfigs of the mailboxes.
func translatorRules(kind spaceKind) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		rule([]string{groupEdge}, []string{"edgeplacements", "singleplacementslices", "customizers", "locations", "statuscollectors", "combinedstatuses"}, read),
		rule([]string{groupCore}, []string{"namespaces"}, read),
	}
	switch kind {
	case kindWorkload:
		rules = append(rules,
			rule([]string{"*"}, []string{"*"}, []string{"get", "list", "watch", "patch"}),
			rule([]string{"*"}, []string{"*/status"}, []string{"update"}),
			rule([]string{groupEdge}, []string{"combinedstatuses", "combinedstatuses/status"}, []string{"create", "update", "patch", "delete"}),
			rule([]string{groupCore, groupEvents}, []string{"events"}, recordEvents),
		)
	case kindCore:
		rules = append(rules,
			rule([]string{groupEdge}, []string{"wrappedobjects"}, []string{"get", "list", "watch", "create", "update", "patch", "delete"}),
			rule([]string{groupEdge}, []string{"syncerconfigs"}, []string{"get", "list", "watch", "create", "update", "patch"}),
		)
	}
	return rules
}

// ensureSpaceRBAC gives every component identity, in the space at path (whose Space has the
// given role label), a ClusterRole and ClusterRoleBinding named after its user, by
// server-side apply straight to the space's API server; it does nothing while the space is
// not ready. Rules that an earlier version granted and this one does not are removed.
func ensureSpaceRBAC(ctx context.Context, p *PKI, path, role string, state runnerState) error {
	if !state.Ready {
		return nil
	}
	cfg := &rest.Config{
		Host:            state.BackendURL,
		TLSClientConfig: p.adminTLS(),
		Timeout:         30 * time.Second,
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client for space %s: %w", path, err)
	}
	opts := metav1.ApplyOptions{FieldManager: rbacFieldManager, Force: true}
	labels := map[string]string{"app.kubernetes.io/managed-by": rbacFieldManager}
	for _, component := range Components() {
		name := ComponentUser(component)
		roleAC := rbacac.ClusterRole(name).WithLabels(labels)
		for _, r := range ComponentRules(component, path, role) {
			roleAC.WithRules(rbacac.PolicyRule().WithAPIGroups(r.APIGroups...).WithResources(r.Resources...).WithVerbs(r.Verbs...))
		}
		if _, err := client.RbacV1().ClusterRoles().Apply(ctx, roleAC, opts); err != nil {
			return fmt.Errorf("granting %s its rights in space %s: %w", name, path, err)
		}
		binding := rbacac.ClusterRoleBinding(name).WithLabels(labels).
			WithRoleRef(rbacac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(name)).
			WithSubjects(rbacac.Subject().WithAPIGroup(rbacv1.GroupName).WithKind(rbacv1.UserKind).WithName(name))
		if _, err := client.RbacV1().ClusterRoleBindings().Apply(ctx, binding, opts); err != nil {
			return fmt.Errorf("binding %s to its rights in space %s: %w", name, path, err)
		}
	}
	// The API server's authorizer sees new RBAC objects a moment after they are stored; a
	// component told that the space is ready must not be refused in that moment.
	for _, component := range Components() {
		if err := waitAuthorized(ctx, client, component, ComponentRules(component, path, role)[0]); err != nil {
			return fmt.Errorf("space %s: %w", path, err)
		}
	}
	return nil
}

// waitAuthorized waits until the space's authorizer lets component do the first thing r
// grants.
func waitAuthorized(ctx context.Context, client kubernetes.Interface, component string, r rbacv1.PolicyRule) error {
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: ComponentUser(component), Groups: []string{ControllersGroup},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: r.Verbs[0], Group: r.APIGroups[0], Resource: r.Resources[0]},
	}}
	var last string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := client.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = got.Status.Reason
		return got.Status.Allowed, nil
	})
	if err != nil {
		return fmt.Errorf("the authorizer does not yet let %s %s %s (%s): %w", ComponentUser(component), r.Verbs[0], r.Resources[0], last, err)
	}
	return nil
}

// ensureRootRBAC is ensureSpaceRBAC for the root space, which has no Space object to
// reconcile: it tries until it has succeeded with the root space ready, for at most timeout.
func ensureRootRBAC(ctx context.Context, p *PKI, set *spaceSet, timeout time.Duration) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		state, _ := set.route(spaces.RootPath)
		if !state.Ready {
			last = fmt.Errorf("the root space is not ready: %s", state.Message)
			return false, nil
		}
		last = ensureSpaceRBAC(ctx, p, spaces.RootPath, "", state)
		return last == nil, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}
