package recipes

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/kubestellar/kubestellar/test/framework"
)

// klogLine matches the start of a klog line: severity, MMDD hh:mm:ss.
var klogLine = regexp.MustCompile(`^[IWEF]\d{4} \d\d:\d\d:\d\d`)

// TestRecipesIdentities checks that `kubestellar start` runs each controller as its own
// identity, that those identities are refused what their controllers do not do, and that
// with them the documents' flow works in the spaces `kubestellar init` makes (core,
// inventory and workload spaces, each with its own RBAC).
func TestRecipesIdentities(t *testing.T) {
	c := sharedCore(t)
	state := filepath.Join(c.dir, "state")
	logs := filepath.Join(c.dir, "logs")

	t.Run("each controller runs with the kubeconfig of its own identity", func(t *testing.T) {
		u := c.newUser(t)
		for process, component := range map[string]string{
			"mailbox-controller":         "mailbox-controller",
			"kubestellar-where-resolver": "where-resolver",
			"placement-translator":       "placement-translator",
		} {
			cmdline := u.ok(`tr '\0' ' ' < /proc/$(cat ` + filepath.Join(logs, process+".pid") + `)/cmdline`)
			own := filepath.Join(state, "identities", component, "kubeconfig")
			assert.Contains(t, cmdline, "--root-kubeconfig "+own, process)
			assert.Contains(t, cmdline, "--base-kubeconfig "+own, process)
			assert.NotContains(t, cmdline, "admin.kubeconfig", process)
			assert.Equal(t, "kubestellar:"+component,
				u.ok(`kubectl --kubeconfig `+own+` auth whoami -o jsonpath='{.status.userInfo.username}'`), process)
		}
	})

	t.Run("an identity is refused what its component does not do", func(t *testing.T) {
		u := c.newUser(t)
		espw := strings.TrimSpace(u.ok(`kubectl get space espw -o jsonpath='{.status.url}'`))
		where := filepath.Join(state, "identities", "where-resolver", "kubeconfig")
		r := u.sh(`kubectl --kubeconfig ` + where + ` --server ` + espw + ` auth can-i delete namespaces`)
		assert.Error(t, r.Err)
		assert.Equal(t, "no\n", r.Stdout)
		translator := filepath.Join(state, "identities", "placement-translator", "kubeconfig")
		r = u.sh(`kubectl --kubeconfig ` + translator + ` auth can-i create spaces`)
		assert.Error(t, r.Err)
		assert.Equal(t, "no\n", r.Stdout)
		u.fails(`secrets is forbidden: User "kubestellar:placement-translator" cannot list resource "secrets"`,
			`kubectl --kubeconfig `+translator+` get secrets -A`)
	})

	t.Run("a placement reaches the mailbox through the spaces kubestellar init made", func(t *testing.T) {
		u := c.newUser(t)
		u.ok(`
kubectl kubestellar ws root:imw1
kubectl kubestellar ensure location id-cluster id-loc=yes
kubectl kubestellar ws root:wmw1
kubectl create namespace id-demo
kubectl apply -f - <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: id-cm, namespace: id-demo}
data: {greeting: hello}
---
apiVersion: edge.kubestellar.io/v2alpha1
kind: EdgePlacement
metadata: {name: id-place}
spec:
  locationSelectors: [{matchLabels: {id-loc: "yes"}}]
  downsync:
  - apiGroup: ""
    resources: [configmaps]
    namespaces: [id-demo]
EOF
`)
		// The mailbox controller annotated the SyncTarget and made its mailbox; the
		// where-resolver wrote the slice; the translator wrapped the ConfigMap into the mailbox.
		var mbws string
		framework.Eventually(t, time.Minute, "the SyncTarget names its mailbox", func() bool {
			mbws = u.ok(`
kubectl kubestellar ws root:imw1 >/dev/null
kubectl get synctargets.edge.kubestellar.io id-cluster -o jsonpath="{.metadata.annotations['kcp\.io/cluster']}-mb-{.metadata.uid}"`)
			return !strings.HasPrefix(mbws, "-mb-")
		})
		framework.Eventually(t, time.Minute, "the slice names the location", func() bool {
			return u.ok(`
kubectl kubestellar ws root:wmw1 >/dev/null
kubectl get singleplacementslices id-place -o jsonpath='{.destinations[*].locationName}' 2>/dev/null || true`) == "id-cluster"
		})
		framework.Eventually(t, time.Minute, "the ConfigMap is wrapped in the mailbox", func() bool {
			out := u.sh(`kubectl --context base get --raw /clusters/root:espw/apis/edge.kubestellar.io/v2alpha1/namespaces/` + mbws + `/wrappedobjects`)
			return out.Err == nil && strings.Contains(out.Stdout, `id-cm`)
		})
	})

	t.Run("the controllers' logs show no request refused once the spaces are ready", func(t *testing.T) {
		u := c.newUser(t)
		// klog's line prefix (severity, then MMDD hh:mm:ss) in the processes' time zone.
		since := u.ok(`date +%m%d\ %H:%M:%S`)
		since = strings.TrimSpace(since)
		// A watch that is refused is retried with a back-off of up to a minute.
		time.Sleep(65 * time.Second)
		for _, process := range []string{"mailbox-controller", "kubestellar-where-resolver", "placement-translator"} {
			log := u.ok(`cat ` + filepath.Join(logs, process+".log"))
			for _, line := range strings.Split(log, "\n") {
				if !klogLine.MatchString(line) || line[1:14] < since {
					continue
				}
				assert.NotContains(t, strings.ToLower(line), "forbidden", process)
			}
		}
	})
}
