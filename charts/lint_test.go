package charts_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/lint/support"
)

// TestLint runs `helm lint --strict` on the chart directory for the default exposure and each
// other one: no errors, no warnings.
func TestLint(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"default":   withEndpoint(),
		"ingress":   withEndpoint("exposure.type", "ingress"),
		"route":     values("openshift", true),
		"route+tls": withEndpoint("exposure.type", "route"),
		"tlsroute":  withEndpoint("exposure.type", "tlsroute", "exposure.tlsRoute.gateway.name", "gw"),
		"none":      values("exposure.type", "none"),
		"keep":      withEndpoint("storage.keep", true, "storage.storageClassName", "fast"),
	} {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = namespace
			result := lint.Run([]string{"kubestellar"}, vals)
			assert.Empty(t, result.Errors)
			assert.Equal(t, 1, result.TotalChartsLinted)
			for _, msg := range result.Messages {
				assert.Less(t, msg.Severity, support.WarningSev, "%s", msg)
			}
		})
	}
}

// TestLintReportsBadValues makes sure lint is not blind: values the schema refuses are errors.
// (Lint only logs a template's `fail`; rendering tests cover those.)
func TestLintReportsBadValues(t *testing.T) {
	lint := action.NewLint()
	lint.Strict = true
	result := lint.Run([]string{"kubestellar"}, withEndpoint("exposure.type", "nodeport"))
	var msgs []string
	for _, msg := range result.Messages {
		if msg.Severity >= support.ErrorSev {
			msgs = append(msgs, msg.Error())
		}
	}
	if assert.NotEmpty(t, msgs) {
		assert.Contains(t, msgs[0], "at '/exposure/type': value must be one of")
	}
}
