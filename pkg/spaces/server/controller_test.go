package server_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

// spaceReconciles is how many times the space controller has reconciled, by its metrics.
func spaceReconciles(t *testing.T) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	require.NoError(t, err)
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "space" {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// A runner's state changes reach the controller, and none leaves anything behind, before,
// while or after the controller runs.
func TestNotifyNeverLeavesGoroutinesBehind(t *testing.T) {
	apiserver := framework.StartAPIServer(t)
	apiserver.InstallCRDs(t, spacev1alpha1.GroupName)
	scheme := k8sruntime.NewScheme()
	require.NoError(t, spacev1alpha1.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(apiserver.Config, ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	require.NoError(t, err)
	notify, err := server.SetupSpaceControllerForTest(mgr)
	require.NoError(t, err)

	before := spaceReconciles(t)
	// Changes before the controller runs are kept for it.
	for range 100 {
		notify("root:early")
	}
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	require.Eventually(t, func() bool { return spaceReconciles(t) > before }, time.Minute, 50*time.Millisecond,
		"a change notified before the start is reconciled")
	notify("root:later")
	require.Eventually(t, func() bool { return spaceReconciles(t) > before+1 }, time.Minute, 50*time.Millisecond,
		"a change notified while running is reconciled")

	cancel()
	require.NoError(t, <-stopped)
	baseline := runtime.NumGoroutine()
	for i := range 1000 {
		notify(fmt.Sprintf("root:space%d", i))
	}
	// Give anything started by notify the time to show.
	time.Sleep(100 * time.Millisecond)
	assert.Less(t, runtime.NumGoroutine(), baseline+50, "goroutines after 1000 notifications to a stopped controller")
}
