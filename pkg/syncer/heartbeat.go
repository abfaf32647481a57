package syncer

import (
	"context"
	"fmt"
	"time"

	"github.com/kubestellar/kubestellar/pkg/wrapper"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
)

// heartbeat records, every HeartbeatInterval, that the syncer runs, in its SyncerConfig's
// status.
func (s *Syncer) heartbeat(ctx context.Context) {
	logger := klog.FromContext(ctx)
	if err := s.mgr.WaitForSources(ctx); err != nil {
		return
	}
	ticker := time.NewTicker(s.opts.HeartbeatInterval)
	defer ticker.Stop()
	for {
		if up, _, err := s.clusters(); err == nil {
			patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"status":{"lastSyncerHeartbeatTime":%q,"heartbeatIntervalSeconds":%d}}`,
				metav1.Now().UTC().Format(time.RFC3339), max(int(s.opts.HeartbeatInterval/time.Second), 1)))
			cfg := &edgev2alpha1.SyncerConfig{}
			cfg.Namespace, cfg.Name = s.opts.Mailbox, wrapper.SyncerConfigName
			if err := up.GetClient().Status().Patch(ctx, cfg, patch); client.IgnoreNotFound(err) != nil && ctx.Err() == nil {
				logger.V(2).Info("Cannot record the heartbeat", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
