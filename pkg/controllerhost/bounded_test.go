package controllerhost_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kubestellar/kubestellar/pkg/controllerhost"
)

func TestRunBoundedGivesUpOnWhatDoesNotStop(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	hung := make(chan struct{})
	defer close(hung)
	err := controllerhost.RunBounded(ctx, 0, func(context.Context) error {
		<-hung
		return nil
	})
	require.ErrorIs(t, err, controllerhost.ErrShutdownTimeout)
}
