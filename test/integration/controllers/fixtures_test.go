package controllers

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/kubestellar/kubestellar/test/framework"
)

func objectKey(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}

func unstructuredSlice(obj map[string]any, fields ...string) ([]any, bool, error) {
	return unstructured.NestedSlice(obj, fields...)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// apiserverRequests sums the apiserver_request_total samples, read from the /metrics of the
// space at path, whose labels match.
func apiserverRequests(t *testing.T, srv *framework.SpaceServer, path string, match func(labels map[string]string) bool) float64 {
	t.Helper()
	cs, err := kubernetes.NewForConfig(srv.Config(path))
	require.NoError(t, err)
	data, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(t.Context())
	require.NoError(t, err)
	total := 0.0
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "apiserver_request_total{")
		if !ok {
			continue
		}
		set, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		labels := map[string]string{}
		for _, pair := range strings.Split(set, ",") {
			if k, v, ok := strings.Cut(pair, "="); ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		if !match(labels) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		require.NoError(t, err)
		total += v
	}
	return total
}

// freeze stops the kube-apiserver of the space with the given ID (SIGSTOP), so that it accepts
// connections and answers nothing, and returns what thaws it; it is thawed when the test
// ends in any case.
func freeze(t *testing.T, srv *framework.SpaceServer, spaceID string) (thaw func()) {
	t.Helper()
	apiserver, ok := srv.SpaceProcess(spaceID, "kube-apiserver")
	require.True(t, ok)
	require.NoError(t, syscall.Kill(apiserver.PID, syscall.SIGSTOP))
	var once sync.Once
	thaw = func() { once.Do(func() { require.NoError(t, syscall.Kill(apiserver.PID, syscall.SIGCONT)) }) }
	t.Cleanup(thaw)
	return thaw
}

// reconciles is how many reconciles the in-process controller of that name has finished.
func reconciles(t *testing.T, controller string) float64 {
	return framework.ControllerMetric(t, "controller_runtime_reconcile_total", controller)
}
