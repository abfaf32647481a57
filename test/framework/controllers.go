package framework

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kubestellar/kubestellar/pkg/apis"
	"github.com/kubestellar/kubestellar/pkg/controllerhost"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

// Controller is a KubeStellar controller running in the test process against a space server,
// with its log (at -v=2) kept for the test to read.
type Controller struct {
	// Options are the controller's options; change them between Stop and Start.
	Options *controllerhost.Options

	t      testing.TB
	setup  controllerhost.SetupFunc
	log    *SyncBuffer
	cancel context.CancelFunc
	done   chan error
}

// StartController runs a controller named name, whose controllers setup adds, against srv,
// and stops it when the test ends. It authenticates as the component's own identity (name
// without a "kubestellar-" prefix) when the server wrote a kubeconfig for it, so that the
// test shows that identity's rights suffice; otherwise as the administrator.
func StartController(t testing.TB, srv *SpaceServer, name string, setup controllerhost.SetupFunc) *Controller {
	t.Helper()
	opts := controllerhost.NewOptions(name, "")
	kubeconfig := srv.Kubeconfig
	if own := srv.IdentityKubeconfig(strings.TrimPrefix(name, "kubestellar-")); own != "" {
		kubeconfig = own
	}
	opts.Root.Kubeconfig = kubeconfig
	opts.Base.Kubeconfig = kubeconfig
	opts.QPS, opts.Burst = 200, 400
	c := &Controller{Options: opts, t: t, setup: setup, log: &SyncBuffer{}}
	t.Cleanup(c.Stop)
	c.Start()
	return c
}

// Start starts the controller (again).
func (c *Controller) Start() {
	c.t.Helper()
	must(c.t, c.Options.Validate())
	logger := textlogger.NewLogger(textlogger.NewConfig(textlogger.Output(c.log), textlogger.Verbosity(2)))
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	c.cancel, c.done = cancel, make(chan error, 1)
	go func() { c.done <- controllerhost.Run(ctx, c.Options, apis.NewScheme(), c.setup) }()
}

// Stop stops the controller and waits until it has stopped.
func (c *Controller) Stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	if err := <-c.done; err != nil {
		c.t.Errorf("controller %s: %v", c.Options.Name, err)
	}
	c.cancel = nil
	if c.t.Failed() {
		c.t.Logf("%s log:\n%s", c.Options.Name, tail(c.log.String(), 60))
	}
}

// Log is what the controller has logged so far.
func (c *Controller) Log() string { return c.log.String() }

// SetupFunc adapts a Setup function of a controller package to controllerhost.SetupFunc.
func SetupFunc[O, R any](setup func(*multicluster.Manager, O) (R, error), opts O) controllerhost.SetupFunc {
	return func(_ context.Context, mgr *multicluster.Manager) error {
		_, err := setup(mgr, opts)
		return err
	}
}

// SyncBuffer is a bytes.Buffer safe for concurrent use, for capturing a log while reading it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ControllerMetric sums a counter of the in-process controllers' metrics (such as
// controller_runtime_reconcile_total) over its series whose controller label is controller,
// or over all its series when controller is "".
func ControllerMetric(t testing.TB, name, controller string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	must(t, err)
	total := 0.0
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if controller == "" || slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == "controller" && l.GetValue() == controller
			}) {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
