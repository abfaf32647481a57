package charts_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// controllerPorts are the metrics and health ports of each controller container.
var controllerPorts = map[string][2]int32{
	"mailbox-controller":   {10203, 10213},
	"where-resolver":       {10205, 10215},
	"placement-translator": {10204, 10214},
}

func containerPort(c corev1.Container, port int32) (string, bool) {
	for _, p := range c.Ports {
		if p.ContainerPort == port {
			return p.Name, true
		}
	}
	return "", false
}

func TestMetricsSecureByDefault(t *testing.T) {
	r := mustRender(t, withEndpoint())
	assert.NotContains(t, r.objs, "ServiceMonitor/kubestellar", "no ServiceMonitor unless asked")
	assert.NotContains(t, r.objs, "Service/kubestellar-metrics")
	assert.NotContains(t, r.notes, "ServiceMonitor")
	d := r.deployment(t)
	for name, ports := range controllerPorts {
		c := container(t, d, name)
		assert.Contains(t, c.Args, fmt.Sprintf("--metrics-bind-address=:%d", ports[0]), name)
		assert.Contains(t, c.Args, "--metrics-secure=true", name)
		assert.NotContains(t, c.Args, "--enable-pprof", name)
		_, ok := containerPort(c, ports[0])
		assert.True(t, ok, "%s declares its metrics port", name)
	}
}

func TestMetricsInsecureStayInThePod(t *testing.T) {
	d := mustRender(t, withEndpoint("metrics.secure", false, "metrics.enablePprof", true)).deployment(t)
	for name, ports := range controllerPorts {
		c := container(t, d, name)
		assert.Contains(t, c.Args, fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", ports[0]), name)
		assert.Contains(t, c.Args, "--metrics-secure=false", name)
		assert.Contains(t, c.Args, "--enable-pprof", name)
		_, ok := containerPort(c, ports[0])
		assert.False(t, ok, "%s does not offer a port it does not listen on", name)
	}

	msg := renderFails(t, withEndpoint("metrics.secure", false, "metrics.serviceMonitor.enabled", true))
	assert.Contains(t, msg, "metrics.serviceMonitor.enabled needs metrics.secure=true")
}

func TestServiceMonitor(t *testing.T) {
	r := mustRender(t, withEndpoint("metrics.serviceMonitor.enabled", true,
		"metrics.serviceMonitor.labels", map[string]any{"release": "prometheus"}, "metrics.serviceMonitor.interval", "30s"))
	d := r.deployment(t)

	svc := decode[corev1.Service](t, r, "Service/kubestellar-metrics")
	pod := labels.Set(d.Spec.Template.Labels)
	assert.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(pod), "the Service selects the pod")
	byName := map[string]corev1.ServicePort{}
	for _, p := range svc.Spec.Ports {
		byName[p.Name] = p
	}
	for name, ports := range controllerPorts {
		portName, ok := containerPort(container(t, d, name), ports[0])
		require.True(t, ok, name)
		p, ok := byName[portName]
		require.True(t, ok, "the Service has %s's metrics port %s", name, portName)
		assert.Equal(t, ports[0], p.Port)
		assert.Equal(t, portName, p.TargetPort.String())
	}
	assert.Len(t, svc.Spec.Ports, len(controllerPorts))

	sm := r.objs["ServiceMonitor/kubestellar"]
	require.NotNil(t, sm, "among %v", r.keys())
	assert.Equal(t, "monitoring.coreos.com/v1", sm.GetAPIVersion())
	assert.Equal(t, "prometheus", sm.GetLabels()["release"])
	matchLabels, _, err := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	require.NoError(t, err)
	assert.True(t, labels.SelectorFromSet(matchLabels).Matches(labels.Set(svc.Labels)), "it selects the metrics Service")
	assert.False(t, labels.SelectorFromSet(matchLabels).Matches(labels.Set(r.objs["Service/kubestellar"].GetLabels())),
		"and not the space server's")
	namespaces, _, err := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
	require.NoError(t, err)
	assert.Equal(t, []string{namespace}, namespaces)
	endpoints, _, err := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	require.NoError(t, err)
	var scraped []string
	for _, e := range endpoints {
		ep := e.(map[string]any)
		scraped = append(scraped, ep["port"].(string))
		assert.Equal(t, "https", ep["scheme"])
		assert.Equal(t, "/metrics", ep["path"])
		assert.Equal(t, "30s", ep["interval"])
		assert.Equal(t, map[string]any{"type": "Bearer", "credentials": map[string]any{"name": "kubestellar-metrics-token", "key": "token"}},
			ep["authorization"])
		assert.Equal(t, map[string]any{"insecureSkipVerify": true}, ep["tlsConfig"], "the certificates are self-signed")
	}
	assert.ElementsMatch(t, []string{"mailbox-metrics", "where-metrics", "place-metrics"}, scraped)
	assert.Contains(t, r.notes, "the Secret kubestellar-metrics-token (key token) in "+namespace)
}

func TestMetricsCertSecret(t *testing.T) {
	r := mustRender(t, withEndpoint("metrics.serviceMonitor.enabled", true, "metrics.certSecret", "metrics-tls",
		"metrics.serviceMonitor.bearerTokenSecret", map[string]any{"name": "scraper", "key": "bearer"}))
	d := r.deployment(t)
	volume := secretVolume(t, d, "metrics-tls")
	for name := range controllerPorts {
		c := container(t, d, name)
		assert.Contains(t, c.Args, "--metrics-cert-dir=/etc/kubestellar/metrics-certs", name)
		m := mountOf(c, volume.Name)
		if assert.NotNil(t, m, "%s mounts the certificate", name) {
			assert.Equal(t, "/etc/kubestellar/metrics-certs", m.MountPath)
			assert.True(t, m.ReadOnly)
		}
	}
	for _, name := range []string{"space-server", "init"} {
		for _, m := range container(t, d, name).VolumeMounts {
			assert.NotEqual(t, volume.Name, m.Name, "%s does not need the metrics certificate", name)
		}
	}

	endpoints, _, err := unstructured.NestedSlice(r.objs["ServiceMonitor/kubestellar"].Object, "spec", "endpoints")
	require.NoError(t, err)
	require.NotEmpty(t, endpoints)
	for _, e := range endpoints {
		ep := e.(map[string]any)
		assert.Equal(t, map[string]any{
			"serverName": "kubestellar-metrics." + namespace + ".svc",
			"ca":         map[string]any{"secret": map[string]any{"name": "metrics-tls", "key": "ca.crt"}},
		}, ep["tlsConfig"])
		assert.Equal(t, map[string]any{"name": "scraper", "key": "bearer"}, ep["authorization"].(map[string]any)["credentials"])
	}
}

func TestMetricsSchema(t *testing.T) {
	for name, tc := range map[string]struct {
		vals map[string]any
		want string
	}{
		"enabled not a boolean": {withEndpoint("metrics.serviceMonitor.enabled", "yes"), "at '/metrics/serviceMonitor/enabled'"},
		"unknown key":           {withEndpoint("metrics.scrape", true), "at '/metrics'"},
		"bad interval":          {withEndpoint("metrics.serviceMonitor.interval", "often"), "at '/metrics/serviceMonitor/interval'"},
		"secure not a boolean":  {withEndpoint("metrics.secure", "true"), "at '/metrics/secure'"},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Contains(t, renderFails(t, tc.vals), tc.want)
		})
	}
}
