package server_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

// A start that reads the Spaces before the root space serves their kind (the CRD was just
// installed, and discovery lags) waits for it instead of stopping the server.
func TestResumeWaitsForTheSpaceAPI(t *testing.T) {
	srv := framework.StartAPIServer(t)
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- server.ResumeSpacesForTest(ctx, srv.Config) }()

	time.Sleep(2 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("resumeSpaces returned before the Space API was served: %v", err)
	default:
	}
	list, err := crds.Space()
	require.NoError(t, err)
	require.NoError(t, crds.Install(ctx, srv.Config, list, time.Minute))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("resumeSpaces did not return once the Space API was served")
	}
}
