package framework

import (
	"context"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	"k8s.io/utils/ptr"

	"github.com/kubestellar/kubestellar/pkg/syncer"
)

// Syncer is a syncer running in the test process, as its mailbox's ServiceAccount, between
// a space server's mailbox and a workload execution cluster.
type Syncer struct {
	Options syncer.Options

	t      testing.TB
	log    *SyncBuffer
	cancel context.CancelFunc
	done   chan error
}

// StartSyncer gives the mailbox a ServiceAccount with access to it alone (as
// prep-for-syncer does) and runs a syncer with its token against the cluster wec. Each
// adjust changes the syncer's options before it starts.
func StartSyncer(t testing.TB, srv *SpaceServer, espwPath, mailbox, syncTargetName string, wec *rest.Config, adjust ...func(*syncer.Options)) *Syncer {
	t.Helper()
	ctx := t.Context()
	admin := srv.Client(espwPath)
	name := "kubestellar-syncer-" + syncTargetName
	for _, obj := range syncer.MailboxAccess(mailbox, name) {
		must(t, admin.Create(ctx, obj))
	}
	tr, err := kubernetes.NewForConfigOrDie(srv.Config(espwPath)).CoreV1().ServiceAccounts(mailbox).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3 * 3600)}}, metav1.CreateOptions{})
	must(t, err)
	upstream := rest.AnonymousClientConfig(srv.Config(espwPath))
	upstream.BearerToken = tr.Status.Token
	downstream := rest.CopyConfig(wec)
	// As the kubestellar-syncer command's defaults set them.
	defaults := syncer.NewFlags()
	for _, cfg := range []*rest.Config{upstream, downstream} {
		cfg.QPS, cfg.Burst = defaults.QPS, defaults.Burst
	}
	s := &Syncer{
		t:   t,
		log: &SyncBuffer{},
		Options: syncer.Options{
			Upstream: upstream, Mailbox: mailbox, Downstream: downstream,
			SyncTargetName: syncTargetName, Concurrency: defaults.Concurrency, HeartbeatInterval: 2 * time.Second,
		},
	}
	for _, f := range adjust {
		f(&s.Options)
	}
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// Start starts the syncer (again).
func (s *Syncer) Start() {
	logger := textlogger.NewLogger(textlogger.NewConfig(textlogger.Output(s.log), textlogger.Verbosity(2)))
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), logger))
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- syncer.Run(ctx, s.Options) }()
}

// Stop stops the syncer and waits until it has stopped.
func (s *Syncer) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("syncer %s: %v", s.Options.SyncTargetName, err)
	}
	s.cancel = nil
	if s.t.Failed() {
		s.t.Logf("syncer %s log:\n%s", s.Options.SyncTargetName, tail(s.log.String(), 60))
	}
}
