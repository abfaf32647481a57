// Package syncer is the agent in a workload execution cluster (WEC): it applies the objects
// wrapped in its mailbox to the WEC (downsync), reports their state back into the wrappers,
// copies selected objects made in the WEC up into the mailbox (upsync), and records a
// heartbeat in its SyncerConfig.
package syncer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kubestellar/kubestellar/pkg/wrapper"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kubestellar/kubestellar/pkg/apis"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

const (
	// FieldManager owns, by server-side apply, what the syncer writes in its cluster.
	FieldManager = "kubestellar-syncer"
	// LabelDownsynced marks every object the syncer created in its cluster; the value is the
	// mailbox it came through, so several syncers can share a cluster.
	LabelDownsynced = "edge.kubestellar.io/downsynced"
	// AnnotationDownsyncedFrom names the wrapper (mailbox/name) an object comes from.
	AnnotationDownsyncedFrom = "edge.kubestellar.io/downsynced-from"
	// AnnotationDesiredHash holds, on an object the syncer applied, the hash of what it
	// applied; an object whose hash matches and whose applied values are all in place is not
	// written again.
	AnnotationDesiredHash = "edge.kubestellar.io/desired-hash"
	// AnnotationDownsyncOverwrite set to "false" on a workload object means: create it once, never
	// update it.
	AnnotationDownsyncOverwrite = "edge.kubestellar.io/downsync-overwrite"
	// LabelUpsync marks wrappers of objects upsynced from the cluster.
	LabelUpsync = "edge.kubestellar.io/upsync"
	// AnnotationUpsyncSource names, on an upsync wrapper, the object it carries
	// (group/resource/namespace/name in the cluster).
	AnnotationUpsyncSource = "edge.kubestellar.io/upsync-source"
	// ConditionSynced says, on a wrapper, whether the object is in the cluster as asked.
	ConditionSynced = wrapper.ConditionSynced

	// Upstream names the mailbox side in requests and logs.
	Upstream = "upstream"
	// Downstream names the workload execution cluster side.
	Downstream = "downstream"
)

// Options configure a syncer.
type Options struct {
	// Upstream reaches the mailbox (as the syncer's own ServiceAccount); Mailbox names it.
	Upstream *rest.Config
	Mailbox  string
	// Downstream reaches the workload execution cluster.
	Downstream *rest.Config
	// SyncTargetName and SyncTargetUID identify the cluster, for logs and upsync wrappers.
	SyncTargetName string
	SyncTargetUID  types.UID
	// Concurrency is the number of objects handled at once in each direction.
	Concurrency int
	// HeartbeatInterval is how often the heartbeat is recorded; 30s when zero.
	HeartbeatInterval time.Duration
	// MetricsBindAddress, when set, is where /metrics is served.
	MetricsBindAddress string
}

// Syncer holds the syncer's controllers and what they share.
type Syncer struct {
	opts Options
	mgr  *multicluster.Manager

	down    *multicluster.Controller // downsync, per object identity
	up      *multicluster.Controller // upsync, per object identity
	configs *multicluster.Controller // the SyncerConfig: what to upsync

	mu sync.Mutex
	// downKinds and upKinds are the kinds watched in the cluster for each direction.
	downKinds map[schema.GroupVersionKind]bool
	upKinds   map[schema.GroupVersionKind]schema.GroupResource
	// written holds, per wrapper, the last status the syncer applied to it: a reconcile that
	// runs again before the cache shows that write (the cluster's event of the apply comes
	// first) then makes no second, identical write.
	written *lru.Cache
	// waiting holds, per namespace, the objects whose apply found that namespace missing in
	// the cluster: the namespace's arrival brings them back, rather than each asking the
	// cluster again every second until it comes.
	waiting map[string]map[wrapper.ObjectRef]bool
}

// writtenSize bounds the statuses remembered; one forgotten costs a write that changes nothing.
const writtenSize = 8192

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	if o.Upstream == nil {
		errs = append(errs, errors.New("the mailbox connection (--from-kubeconfig) is required"))
	}
	if o.Mailbox == "" {
		errs = append(errs, errors.New("the mailbox is not known: the --from-kubeconfig context must set a namespace, the mailbox"))
	}
	if o.Downstream == nil {
		errs = append(errs, errors.New("the cluster connection (--to-kubeconfig, or in-cluster) is required"))
	}
	return errors.Join(errs...)
}

// Run runs the syncer until ctx ends.
func Run(ctx context.Context, opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = 4
	}
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 30 * time.Second
	}
	logger := klog.FromContext(ctx).WithValues("mailbox", opts.Mailbox, "syncTarget", opts.SyncTargetName)
	ctx = klog.NewContext(ctx, logger)
	mgr, err := multicluster.NewManager(multicluster.Options{
		Scheme: apis.NewScheme(),
		Logger: logger,
		Cache: func(name, _ string) cache.Options {
			if name == Upstream {
				// The syncer may read its own mailbox only.
				return cache.Options{DefaultNamespaces: map[string]cache.Config{opts.Mailbox: {}}}
			}
			return cache.Options{}
		},
	})
	if err != nil {
		return err
	}
	s := &Syncer{opts: opts, mgr: mgr, downKinds: map[schema.GroupVersionKind]bool{}, upKinds: map[schema.GroupVersionKind]schema.GroupResource{}, written: lru.New(writtenSize), waiting: map[string]map[wrapper.ObjectRef]bool{}}
	if err := s.setup(); err != nil {
		return err
	}
	mgr.AddSource(&multicluster.ConfigSource{Clusters: []multicluster.ConfigCluster{
		{Name: Upstream, Config: opts.Upstream}, {Name: Downstream, Config: opts.Downstream},
	}})
	if opts.MetricsBindAddress != "" {
		srv, err := metricsserver.NewServer(metricsserver.Options{BindAddress: opts.MetricsBindAddress}, opts.Downstream, nil)
		if err != nil {
			return fmt.Errorf("serving metrics at %s: %w", opts.MetricsBindAddress, err)
		}
		go func() {
			if err := srv.Start(ctx); err != nil {
				logger.Error(err, "Cannot serve metrics", "address", opts.MetricsBindAddress)
			}
		}()
	}
	go s.heartbeat(ctx)
	go s.sweep(ctx)
	return mgr.Start(ctx)
}

func (s *Syncer) setup() error {
	copts := multicluster.ControllerOptions{Concurrency: s.opts.Concurrency}
	var err error
	if s.down, err = multicluster.NewController("syncer-downsync", multicluster.ReconcilerFunc(s.reconcileDownsync), copts); err != nil {
		return err
	}
	if s.up, err = multicluster.NewController("syncer-upsync", multicluster.ReconcilerFunc(s.reconcileUpsync), copts); err != nil {
		return err
	}
	if s.configs, err = multicluster.NewController("syncer-config", multicluster.ReconcilerFunc(s.reconcileConfig), multicluster.ControllerOptions{}); err != nil {
		return err
	}
	if err := s.watchUpstream(); err != nil {
		return err
	}
	s.mgr.AddController(s.down)
	s.mgr.AddController(s.up)
	s.mgr.AddController(s.configs)
	return nil
}

// clusters returns the upstream and downstream clusters.
func (s *Syncer) clusters() (up, down *multicluster.Cluster, err error) {
	up, ok1 := s.mgr.Cluster(Upstream)
	down, ok2 := s.mgr.Cluster(Downstream)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("not connected yet")
	}
	return up, down, nil
}
