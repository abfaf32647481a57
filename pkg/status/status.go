// Package status tells a workload owner where each object of their placements is: one row
// per object and destination, read from the wrappers in the destinations' mailboxes and the
// heartbeats of their syncers.
package status

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/explain"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/placement"
	"github.com/kubestellar/kubestellar/pkg/where"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
)

// Spaces is what Collect needs of the space server.
type Spaces interface {
	explain.Spaces
	// ID returns the ID of the space at path.
	ID(ctx context.Context, path string) (string, error)
}

// StateNotDelivered says that no wrapper of the object is in the destination's mailbox.
const StateNotDelivered placement.State = "NotDelivered"

// Row is one selected object at one destination.
type Row struct {
	// Placement is the EdgePlacement selecting the object.
	Placement string `json:"placement"`
	// Group, Resource, Namespace and Name identify the object.
	Group     string `json:"group"`
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Cluster is the ID of the inventory space of the destination's SyncTarget.
	Cluster string `json:"cluster"`
	// SyncTarget names the destination.
	SyncTarget string `json:"syncTarget"`
	// State is how far the object got there: NotDelivered, Pending, Applied, Available or
	// Failed.
	State placement.State `json:"state"`
	// Reason and Message are those of the syncer's last Synced condition on the wrapper.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// LastSyncerHeartbeatTime is when the destination's syncer last reported in.
	LastSyncerHeartbeatTime *metav1.Time `json:"lastSyncerHeartbeatTime,omitempty"`
}

// Problem is something wrong with a placement as a whole.
type Problem struct {
	// Placement is the EdgePlacement concerned.
	Placement string `json:"placement"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// Report is the state of the placements of one workload management space. Its JSON form is
// stable: fields are only ever added.
type Report struct {
	// Space is the path of the workload management space.
	Space string `json:"space"`
	// Rows are the objects at their destinations, by placement, object and destination.
	Rows []Row `json:"rows"`
	// Problems are the placements' own failures: selectors that cannot be resolved, objects
	// that could not be delivered.
	Problems []Problem `json:"problems,omitempty"`
}

// Failed reports whether an object failed somewhere or a placement has a problem.
func (r *Report) Failed() bool {
	return len(r.Problems) > 0 || slices.ContainsFunc(r.Rows, func(row Row) bool { return row.State == placement.StateFailed })
}

// Collect reports on the named placements of the workload management space at wmwPath (all
// of them when names is empty); the mailboxes are in the space at espwPath.
func Collect(ctx context.Context, sp Spaces, wmwPath, espwPath string, names []string) (*Report, error) {
	wmw, err := newClient(sp.Config(wmwPath), wmwPath)
	if err != nil {
		return nil, err
	}
	espw, err := newClient(sp.Config(espwPath), espwPath)
	if err != nil {
		return nil, err
	}
	wmwID, err := sp.ID(ctx, wmwPath)
	if err != nil {
		return nil, fmt.Errorf("finding space %s: %w", wmwPath, err)
	}
	if len(names) == 0 {
		list := &edgev2alpha1.EdgePlacementList{}
		if err := wmw.List(ctx, list); err != nil {
			if meta.IsNoMatchError(err) {
				return nil, fmt.Errorf("space %s serves no EdgePlacements: is it a workload management space? (kubectl kubestellar ensure wmw NAME makes one)", wmwPath)
			}
			return nil, fmt.Errorf("listing the EdgePlacements of %s: %w", wmwPath, err)
		}
		for _, ep := range list.Items {
			names = append(names, ep.Name)
		}
	}
	sort.Strings(names)
	r := &Report{Space: wmwPath, Rows: []Row{}}
	mailboxes, err := readMailboxes(ctx, espw, wmwID)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := r.addPlacement(ctx, sp, wmw, espw, wmwPath, wmwID, name, mailboxes); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func newClient(cfg *rest.Config, path string) (client.Client, error) {
	c, err := client.New(cfg, client.Options{Scheme: apis.NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to space %s: %w", path, err)
	}
	return c, nil
}

// mailboxState is what one mailbox holds of the workload space: its wrappers by the object
// they carry, and its syncer's heartbeat.
type mailboxState struct {
	wrappers  map[string]*edgev2alpha1.WrappedObject
	heartbeat *metav1.Time
	// silent says the syncer has stopped reporting in.
	silent bool
}

func (r *Report) addPlacement(ctx context.Context, sp Spaces, wmw, espw client.Client, wmwPath, wmwID, name string, mailboxes map[string]*mailboxState) error {
	ep := &edgev2alpha1.EdgePlacement{}
	if err := wmw.Get(ctx, client.ObjectKey{Name: name}, ep); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("no EdgePlacement %q in space %s (list them with: kubectl get edgeplacements)", name, wmwPath)
		}
		return fmt.Errorf("reading EdgePlacement %s in %s: %w", name, wmwPath, err)
	}
	for _, t := range []string{where.ConditionResolved, placement.ConditionDelivered} {
		if c := meta.FindStatusCondition(ep.Status.Conditions, t); c != nil && c.Status == metav1.ConditionFalse {
			r.Problems = append(r.Problems, Problem{Placement: name, Message: fmt.Sprintf("%s is False (%s): %s", t, c.Reason, c.Message)})
		}
	}
	if c := meta.FindStatusCondition(ep.Status.Conditions, placement.ConditionConflict); c != nil && c.Status == metav1.ConditionTrue {
		r.Problems = append(r.Problems, Problem{Placement: name, Message: "Conflict: " + c.Message})
	}
	slice := &edgev2alpha1.SinglePlacementSlice{}
	if err := wmw.Get(ctx, client.ObjectKey{Name: name}, slice); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("reading the destinations of %s: %w", name, err)
	}
	explained, err := explain.Placement(ctx, sp, wmwPath, name)
	if err != nil {
		return err
	}
	dests := slices.Clone(slice.Destinations)
	slices.SortFunc(dests, func(a, b edgev2alpha1.SinglePlacement) int {
		return strings.Compare(a.Cluster+"\x00"+a.SyncTargetName, b.Cluster+"\x00"+b.SyncTargetName)
	})
	for _, o := range explained.Objects {
		if !o.Selected {
			continue
		}
		ref := wrapper.ObjectRef{Space: wmwID, GroupResource: schema.GroupResource{Group: o.Group, Resource: o.Resource}, Namespace: o.Namespace, Name: o.Name}
		for _, dest := range dests {
			box := mailbox.Name(dest.Cluster, dest.SyncTargetUID)
			state, ok := mailboxes[box]
			if !ok {
				state = &mailboxState{}
			}
			row := Row{Placement: name, Group: o.Group, Resource: o.Resource, Namespace: o.Namespace, Name: o.Name,
				Cluster: dest.Cluster, SyncTarget: dest.SyncTargetName, State: StateNotDelivered, LastSyncerHeartbeatTime: state.heartbeat}
			if w, ok := state.wrappers[ref.String()]; ok {
				row.State = placement.StateOf(ref.GroupResource, w)
				if state.silent {
					row.State = placement.StateStale
				}
				if c := meta.FindStatusCondition(w.Status.Conditions, wrapper.ConditionSynced); c != nil {
					row.Reason, row.Message = c.Reason, c.Message
				}
			}
			r.Rows = append(r.Rows, row)
		}
	}
	return nil
}

// readMailboxes reads, in two requests whatever the number of mailboxes, the wrappers of
// the workload space's objects in every mailbox, and the heartbeats of the syncers.
func readMailboxes(ctx context.Context, espw client.Client, wmwID string) (map[string]*mailboxState, error) {
	list := &edgev2alpha1.WrappedObjectList{}
	if err := espw.List(ctx, list, client.MatchingLabels{wrapper.LabelSourceSpace: wmwID}); err != nil {
		return nil, fmt.Errorf("reading the mailboxes: %w", err)
	}
	syncers, err := mailbox.SyncerStatuses(ctx, espw)
	if err != nil {
		return nil, err
	}
	out := map[string]*mailboxState{}
	stateOf := func(box string) *mailboxState {
		if out[box] == nil {
			out[box] = &mailboxState{wrappers: map[string]*edgev2alpha1.WrappedObject{}}
		}
		return out[box]
	}
	for i := range list.Items {
		if w := &list.Items[i]; w.DeletionTimestamp.IsZero() {
			stateOf(w.Namespace).wrappers[w.Annotations[wrapper.AnnotationSource]] = w
		}
	}
	now := time.Now()
	for box, syncer := range syncers {
		state := stateOf(box)
		state.heartbeat = syncer.LastSyncerHeartbeatTime
		state.silent, _ = mailbox.Silent(syncer, now)
	}
	return out, nil
}
