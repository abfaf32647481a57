package recipes

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kubestellar/kubestellar/test/framework"
)

// TestRecipesExplain asks why a workload is or is not placed, as a workload owner would.
func TestRecipesExplain(t *testing.T) {
	c := sharedCore(t)
	u := c.newUser(t)
	u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ws create imw-xp --enter
kubectl kubestellar ensure location xp-prod env=prod zone=a
kubectl kubestellar ensure location xp-dev env=dev
kubectl kubestellar ensure wmw wmw-xp
kubectl create namespace shop-xp
kubectl create configmap settings -n shop-xp --from-literal=color=blue
kubectl create configmap other -n shop-xp
kubectl apply -f - <<EOF
apiVersion: edge.kubestellar.io/v2alpha1
kind: EdgePlacement
metadata:
  name: xp-shop
spec:
  locationSelectors:
  - matchLabels: {"env":"prod"}
    matchExpressions:
    - {key: zone, operator: In, values: [a, b]}
  downsync:
  - apiGroup: ""
    resources: [ configmaps ]
    namespaces: [ shop-xp ]
    objectNames: [ settings ]
---
apiVersion: edge.kubestellar.io/v2alpha1
kind: EdgePlacement
metadata:
  name: xp-nowhere
spec:
  locationSelectors:
  - matchLabels: {"env":"xp-staging"}
EOF
`)

	t.Run("the text says which Locations and objects are chosen, and why not the others", func(t *testing.T) {
		out := u.ok(`kubectl kubestellar explain placement xp-shop`)
		for _, want := range []string{
			`EdgePlacement "xp-shop" in root:wmw-xp`,
			`  location "xp-prod" in root:imw-xp: selected by locationSelectors[0]; SyncTargets: xp-prod`,
			`  location "xp-dev" in root:imw-xp: not selected: locationSelectors[0]: label env: want "prod", has "dev"; SyncTargets: xp-dev`,
			"Objects: 2 of 3 selected",
			"  configmaps shop-xp/settings: selected by downsync[0]",
			`  configmaps shop-xp/other: not selected: downsync[0].objectNames: name "other" is not one of [settings]`,
			"  namespaces shop-xp: selected, with the objects selected in it",
		} {
			assert.Contains(t, out, want+"\n")
		}
	})

	t.Run("a placement matching no Location is not Resolved, and explain says why", func(t *testing.T) {
		framework.Eventually(t, time.Minute, "the where-resolver sets NoLocationMatched", func() bool {
			r := u.sh(`kubectl get edgeplacement xp-nowhere -o jsonpath='{.status.conditions[?(@.type=="Resolved")].reason}'`)
			return r.Err == nil && r.Stdout == "NoLocationMatched"
		})
		out := u.ok(`kubectl kubestellar explain placement xp-nowhere`)
		assert.Contains(t, out, "Resolved: False NoLocationMatched: no Location matches")
		assert.Contains(t, out, `  location "xp-prod" in root:imw-xp: not selected: locationSelectors[0]: label env: want "xp-staging", has "prod"; SyncTargets: xp-prod`+"\n")
		assert.Contains(t, out, "Objects: none selected, spec.downsync is empty\n")
	})

	t.Run("-o json from another space, with --wmw", func(t *testing.T) {
		u.ok(`kubectl kubestellar ws root`)
		out := u.ok(`kubectl kubestellar explain placement xp-shop --wmw wmw-xp -o json`)
		var report struct {
			Placement string `json:"placement"`
			Space     string `json:"space"`
			Locations []struct {
				Space       string   `json:"space"`
				Name        string   `json:"name"`
				Selected    bool     `json:"selected"`
				SyncTargets []string `json:"syncTargets"`
				NotSelected []struct {
					Term   int    `json:"term"`
					Reason string `json:"reason"`
				} `json:"notSelected"`
			} `json:"locations"`
			Objects []struct {
				Resource   string `json:"resource"`
				Namespace  string `json:"namespace"`
				Name       string `json:"name"`
				Selected   bool   `json:"selected"`
				SelectedBy []int  `json:"selectedBy"`
			} `json:"objects"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &report), out)
		assert.Equal(t, "xp-shop", report.Placement)
		assert.Equal(t, "root:wmw-xp", report.Space)
		found := 0
		for _, l := range report.Locations {
			switch {
			case l.Space == "root:imw-xp" && l.Name == "xp-prod":
				found++
				assert.True(t, l.Selected)
				assert.Equal(t, []string{"xp-prod"}, l.SyncTargets)
			case l.Space == "root:imw-xp" && l.Name == "xp-dev":
				found++
				assert.False(t, l.Selected)
				require.Len(t, l.NotSelected, 1)
				assert.Equal(t, `label env: want "prod", has "dev"`, l.NotSelected[0].Reason)
			}
		}
		assert.Equal(t, 2, found, "both Locations of root:imw-xp are reported")
		require.NotEmpty(t, report.Objects)
		assert.Equal(t, "configmaps", report.Objects[0].Resource)
		assert.Equal(t, "other", report.Objects[0].Name)
		assert.False(t, report.Objects[0].Selected)
	})

	t.Run("mistakes are named", func(t *testing.T) {
		r := u.fails(`--output "table": use json or yaml`, `kubectl kubestellar explain placement xp-shop --wmw wmw-xp -o table`)
		assert.Contains(t, r.Stdout+r.Stderr, "Usage:", "a bad flag shows the usage")
		u.fails(`no EdgePlacement "xp-typo" in space root:wmw-xp`, `kubectl kubestellar explain placement xp-typo --wmw wmw-xp`)
		u.fails(`--wmw root:wmw-xp-absent: space root:wmw-xp-absent: no such space`, `kubectl kubestellar explain placement xp-shop --wmw wmw-xp-absent`)
		u.fails("accepts 1 arg(s)", `kubectl kubestellar explain placement`)
	})

	t.Run("--help explains the lines", func(t *testing.T) {
		out := u.ok(`kubectl kubestellar explain placement --help`)
		assert.True(t, strings.Contains(out, "not selected: locationSelectors[i]: REASON"), out)
		assert.Contains(t, out, "downsync[i].FIELD: REASON")
	})
}
