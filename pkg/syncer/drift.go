package syncer

import (
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// driftReverted counts, by kind, the changes made in the cluster that the syncer undid. It
// is registered with controller-runtime's registry, which --metrics-bind-address serves.
var driftReverted = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "kubestellar_syncer_drift_reverted_total",
	Help: "Changes made in the workload execution cluster to fields the syncer sets, which the syncer put back, by kind.",
}, []string{"kind"})

func init() {
	metrics.Registry.MustRegister(driftReverted)
}

// DriftReverted returns the count of reverted drifts of a kind.
func DriftReverted(kind string) prometheus.Counter { return driftReverted.WithLabelValues(kind) }

// differingFields lists the paths (data.key, spec.containers[0].image) where have lacks or
// differs from a value want sets, as contains compares them, the first limit of them in
// order.
func differingFields(have, want any, limit int) []string {
	var out []string
	var walk func(path string, have, want any)
	walk = func(path string, have, want any) {
		if len(out) >= limit {
			return
		}
		switch w := want.(type) {
		case map[string]any:
			h, ok := have.(map[string]any)
			if !ok {
				out = append(out, orRoot(path))
				return
			}
			keys := make([]string, 0, len(w))
			for k := range w {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, h[k], w[k])
			}
		case []any:
			h, ok := have.([]any)
			if !ok || len(h) != len(w) {
				out = append(out, orRoot(path))
				return
			}
			for i := range w {
				walk(path+"["+strconv.Itoa(i)+"]", h[i], w[i])
			}
		default:
			if !equality.Semantic.DeepEqual(normalizeNumber(have), normalizeNumber(want)) {
				out = append(out, orRoot(path))
			}
		}
	}
	walk("", have, want)
	return out
}

func orRoot(path string) string {
	if path == "" {
		return "."
	}
	return path
}
