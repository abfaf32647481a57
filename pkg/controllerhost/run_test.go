package controllerhost_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2/ktesting"

	"github.com/kubestellar/kubestellar/pkg/controllerhost"
	"github.com/kubestellar/kubestellar/test/framework"
)

// elect runs RunElected in the background and returns what it returns.
func elect(ctx context.Context, t *testing.T, srv *framework.APIServer, run func(context.Context) error) <-chan error {
	t.Helper()
	logger, _ := ktesting.NewTestContext(t)
	done := make(chan error, 1)
	go func() { done <- controllerhost.RunElected(ctx, "test", srv.Config, logger, run) }()
	return done
}

func lease(t *testing.T, srv *framework.APIServer) *coordinationv1.Lease {
	t.Helper()
	l, err := kubernetes.NewForConfigOrDie(srv.Config).CoordinationV1().Leases("kube-system").Get(t.Context(), "kubestellar-test", metav1.GetOptions{})
	require.NoError(t, err)
	return l
}

func holder(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func wait(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("%s: still running after a minute", what)
		return nil
	}
}

func TestLeaderElection(t *testing.T) {
	srv := framework.StartAPIServer(t)

	t.Run("a leader whose controllers fail releases the lease and fails", func(t *testing.T) {
		boom := errors.New("boom")
		started := make(chan struct{})
		done := elect(t.Context(), t, srv, func(context.Context) error {
			close(started)
			return boom
		})
		<-started
		err := wait(t, done, "the failed leader")
		require.ErrorIs(t, err, boom)
		l := lease(t, srv)
		assert.Empty(t, holder(l), "the lease is released")

		// Another replica takes over at once, without waiting for the lease to expire.
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		took := make(chan struct{})
		next := elect(ctx, t, srv, func(ctx context.Context) error {
			close(took)
			<-ctx.Done()
			return nil
		})
		select {
		case <-took:
		case <-time.After(10 * time.Second):
			t.Fatal("the next replica did not lead within 10 s (the lease lasts 15 s)")
		}
		cancel()
		require.NoError(t, wait(t, next, "the next leader"))
	})

	t.Run("a leader told to stop stops its controllers, then releases the lease", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		leading := make(chan struct{})
		stopped := make(chan struct{})
		done := elect(ctx, t, srv, func(ctx context.Context) error {
			close(leading)
			<-ctx.Done()
			// The lease is still held while the controllers finish.
			assert.NotEmpty(t, holder(lease(t, srv)), "held while stopping")
			close(stopped)
			return nil
		})
		<-leading
		cancel()
		require.NoError(t, wait(t, done, "the stopped leader"))
		<-stopped
		assert.Empty(t, holder(lease(t, srv)), "the lease is released")
	})

	t.Run("a replica waiting for the lease stops at once when told to", func(t *testing.T) {
		holdCtx, release := context.WithCancel(t.Context())
		defer release()
		leading := make(chan struct{})
		holderDone := elect(holdCtx, t, srv, func(ctx context.Context) error {
			close(leading)
			<-ctx.Done()
			return nil
		})
		<-leading

		ctx, cancel := context.WithCancel(t.Context())
		waiting := elect(ctx, t, srv, func(context.Context) error {
			t.Error("the second replica must not lead while the first holds the lease")
			return nil
		})
		cancel()
		require.NoError(t, wait(t, waiting, "the waiting replica"))
		release()
		require.NoError(t, wait(t, holderDone, "the leader"))
	})
}
