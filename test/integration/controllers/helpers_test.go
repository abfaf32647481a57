// Package controllers tests the mailbox controller and the where-resolver against a real
// space server.
package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/wait"
)

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	require.NoError(t, err, "%s within %s", what, timeout)
}

// consistently checks that cond stays true for d.
func consistently(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		require.True(t, cond(), what)
		time.Sleep(200 * time.Millisecond)
	}
}
