package server_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	spacev1alpha1 "github.com/kubestellar/kubestellar/pkg/apis/space/v1alpha1"
	"github.com/kubestellar/kubestellar/pkg/crds"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/test/framework"
)

// denialPrefix starts the message of every write the StatusCollector webhook refuses.
const denialPrefix = `admission webhook "statuscollectors.edge.kubestellar.io" denied the request: `

func selectCollector(name, filter string, defs ...string) *edgev2alpha1.StatusCollector {
	c := &edgev2alpha1.StatusCollector{}
	c.Name = name
	c.Spec.Filter = filter
	for i, def := range defs {
		c.Spec.Select = append(c.Spec.Select, edgev2alpha1.NamedExpression{Name: "col" + string(rune('a'+i)), Def: def})
	}
	return c
}

// requireRefused checks that err is the webhook's refusal, of code 422, naming each field.
func requireRefused(t *testing.T, err error, fields ...string) {
	t.Helper()
	require.Error(t, err)
	assert.True(t, apierrors.IsInvalid(err), "the refusal is a 422 Invalid: %v", err)
	assert.Contains(t, err.Error(), denialPrefix)
	for _, f := range fields {
		assert.Contains(t, err.Error(), f+": ")
	}
}

// webhookConfig reads the space server's webhook configuration in the space at path.
func webhookConfig(t *testing.T, srv *framework.SpaceServer, path string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	require.NoError(t, srv.Client(path).Get(t.Context(), client.ObjectKey{Name: server.WebhookConfigurationName}, cfg))
	return cfg
}

// A workload management space refuses, at admission, StatusCollectors whose expressions do
// not compile, naming the field; the check survives a restart of the space server.
func TestStatusCollectorsAreCheckedAtAdmission(t *testing.T) {
	srv := framework.StartSpaceServer(t)
	srv.CreateSpaceWithRole("wh-wmw", spacev1alpha1.RoleWorkload)
	srv.CreateSpaceWithRole("wh-imw", spacev1alpha1.RoleInventory)
	path := spaces.ChildPath("wh-wmw")
	list, err := crds.Edge()
	require.NoError(t, err)
	require.NoError(t, crds.Install(t.Context(), srv.Config(path), list, 2*time.Minute))
	c := srv.Client(path)
	ctx := t.Context()

	t.Run("the space holds the webhook configuration", func(t *testing.T) {
		cfg := webhookConfig(t, srv, path)
		require.Len(t, cfg.Webhooks, 1)
		wh := cfg.Webhooks[0]
		assert.Equal(t, "statuscollectors.edge.kubestellar.io", wh.Name)
		require.NotNil(t, wh.ClientConfig.URL)
		assert.True(t, strings.HasPrefix(*wh.ClientConfig.URL, "https://127.0.0.1:"), "served on loopback: %s", *wh.ClientConfig.URL)
		ca, err := os.ReadFile(srv.CAFile())
		require.NoError(t, err)
		assert.Equal(t, ca, wh.ClientConfig.CABundle, "the CA bundle is the server CA")
		require.Len(t, wh.Rules, 1)
		assert.Equal(t, []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}, wh.Rules[0].Operations)
		assert.Equal(t, []string{"edge.kubestellar.io"}, wh.Rules[0].APIGroups)
		assert.Equal(t, []string{"v2alpha1"}, wh.Rules[0].APIVersions)
		assert.Equal(t, []string{"statuscollectors"}, wh.Rules[0].Resources)
		assert.Equal(t, ptr.To(admissionregistrationv1.Fail), wh.FailurePolicy)
		assert.Equal(t, ptr.To(admissionregistrationv1.SideEffectClassNone), wh.SideEffects)
		assert.Equal(t, ptr.To[int32](5), wh.TimeoutSeconds)
		assert.Equal(t, []string{"v1"}, wh.AdmissionReviewVersions)
	})

	t.Run("only workload management spaces get one", func(t *testing.T) {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		err := srv.Client(spaces.ChildPath("wh-imw")).Get(ctx, client.ObjectKey{Name: server.WebhookConfigurationName}, cfg)
		require.Error(t, err, "an inventory space does not serve admission registration")
	})

	t.Run("a valid collector is created", func(t *testing.T) {
		require.NoError(t, c.Create(ctx, selectCollector("wh-good", "has(returned.status.x)", "returned.status.x", "destination.name")))
	})

	t.Run("a filter that does not compile is refused, naming spec.filter", func(t *testing.T) {
		err := c.Create(ctx, selectCollector("wh-bad-filter", "returned.status.x +", "returned.status.x"))
		requireRefused(t, err, "spec.filter")
		assert.Contains(t, err.Error(), `StatusCollector.edge.kubestellar.io "wh-bad-filter" is invalid`)
		assert.True(t, apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Name: "wh-bad-filter"}, &edgev2alpha1.StatusCollector{})), "nothing is stored")
	})

	t.Run("every bad field is named", func(t *testing.T) {
		err := c.Create(ctx, selectCollector("wh-bad-many", "1 + 1", "returned.status.x", "obj.metadata.name ==", "destination.name"))
		requireRefused(t, err, "spec.filter", "spec.select[1].def")
		assert.NotContains(t, err.Error(), "spec.select[0]")
		assert.NotContains(t, err.Error(), "spec.select[2]")
	})

	t.Run("an update that breaks spec.select[0].def is refused, naming it", func(t *testing.T) {
		got := &edgev2alpha1.StatusCollector{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "wh-good"}, got))
		got.Spec.Select[0].Def = "returned.status.("
		requireRefused(t, c.Update(ctx, got), "spec.select[0].def")
		stored := &edgev2alpha1.StatusCollector{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "wh-good"}, stored))
		assert.Equal(t, "returned.status.x", stored.Spec.Select[0].Def, "the stored collector is unchanged")
		// A valid update goes through.
		stored.Spec.Select[0].Def = "returned.status.y"
		require.NoError(t, c.Update(ctx, stored))
	})

	t.Run("after a restart the configuration is right and checks still work", func(t *testing.T) {
		before := webhookConfig(t, srv, path)
		// A collector stored while no check was in force.
		require.NoError(t, c.Delete(ctx, before))
		framework.Eventually(t, time.Minute, "a bad collector is stored while no webhook is configured", func() bool {
			return c.Create(ctx, selectCollector("wh-stored-bad", "", "obj.(")) == nil
		})

		srv.Stop()
		srv.Start()
		srv.WaitSpaceReady("wh-wmw")
		c = srv.Client(path)
		after := webhookConfig(t, srv, path)
		require.Len(t, after.Webhooks, 1)
		assert.NotEqual(t, *before.Webhooks[0].ClientConfig.URL, *after.Webhooks[0].ClientConfig.URL,
			"the configuration follows the restarted server's webhook port")
		before.Webhooks[0].ClientConfig.URL = after.Webhooks[0].ClientConfig.URL
		assert.Equal(t, before.Webhooks, after.Webhooks, "the rest of the configuration is as it was")

		requireRefused(t, c.Create(ctx, selectCollector("wh-bad-after", "returned.status.x +", "returned.status.x")), "spec.filter")
		require.NoError(t, c.Create(ctx, selectCollector("wh-good-after", "", "returned.status.x")))

		// A collector stored before the check can still change its metadata, but not take
		// another bad spec.
		stored := &edgev2alpha1.StatusCollector{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "wh-stored-bad"}, stored))
		stored.Labels = map[string]string{"touched": "yes"}
		require.NoError(t, c.Update(ctx, stored), "a metadata-only update of a collector stored before the check")
		stored.Spec.Select[0].Def = "obj.)"
		requireRefused(t, c.Update(ctx, stored), "spec.select[0].def")

	})
}
