// Package controllers tests the mailbox controller and the where-resolver against a real
// space server.
package controllers

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// edit reads obj, changes it with mutate and writes it back, again on a conflict: the
// controllers write the status of the same objects meanwhile, so this is how a user's edit
// (kubectl edit, apply) goes.
func edit(t *testing.T, c client.Client, key client.ObjectKey, obj client.Object, mutate func()) {
	t.Helper()
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(context.Background(), key, obj); err != nil {
			return err
		}
		mutate()
		return c.Update(context.Background(), obj)
	}))
}
