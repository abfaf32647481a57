package inventory_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/inventory"
	"github.com/kubestellar/kubestellar/test/framework"
)

// Ensuring a location while something else keeps writing its SyncTarget (as the mailbox
// controller does when it annotates a new one), and while another user ensures it too,
// succeeds every time and keeps every label.
func TestEnsureLocationWhileOthersWrite(t *testing.T) {
	srv := framework.StartAPIServer(t)
	srv.InstallCRDs(t, edgev2alpha1.GroupName)
	c, err := client.New(srv.Config, client.Options{Scheme: apis.NewScheme()})
	require.NoError(t, err)
	ctx := t.Context()
	quiet := func(string, ...any) {}
	require.NoError(t, inventory.EnsureLocation(ctx, c, "busy", map[string]string{"env": "prod"}, quiet))

	writerCtx, stop := context.WithCancel(ctx)
	var writers sync.WaitGroup
	writers.Go(func() {
		for n := 0; writerCtx.Err() == nil; n++ {
			_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				st := &edgev2alpha1.SyncTarget{}
				if err := c.Get(writerCtx, client.ObjectKey{Name: "busy"}, st); err != nil {
					return err
				}
				if st.Annotations == nil {
					st.Annotations = map[string]string{}
				}
				st.Annotations["example.com/writes"] = string(rune('a' + n%26))
				return c.Update(writerCtx, st)
			})
		}
	})
	var ensurers sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		ensurers.Go(func() {
			errs <- inventory.EnsureLocation(ctx, c, "busy", map[string]string{"env": "prod", "n" + string(rune('a'+i%4)): "yes"}, quiet)
		})
	}
	ensurers.Wait()
	stop()
	writers.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	st := &edgev2alpha1.SyncTarget{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "busy"}, st))
	for _, k := range []string{"env", "na", "nb", "nc", "nd", inventory.IDLabel} {
		assert.Contains(t, st.Labels, k)
	}
}
