package recipes

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecipesSpaces runs the documents' recipes about spaces (workspaces there), inventory
// and finding a mailbox, with `kubectl kubestellar ws` where they type `kubectl ws`.
func TestRecipesSpaces(t *testing.T) {
	c := sharedCore(t)

	t.Run("ensure location writes into the current space, or the one --imw names, and ends there", func(t *testing.T) {
		u := c.newUser(t)
		out := u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ws create imw-sp --enter
kubectl kubestellar ensure location sp-demo2 env=prod
`)
		assert.Contains(t, out, "Workspace \"imw-sp\" created. Waiting for it to be ready...\nWorkspace \"imw-sp\" is ready to use.\nCurrent workspace is \"root:imw-sp\".\n")
		assert.Contains(t, out, "Current workspace is \"root:imw-sp\".\nThe KubeStellar API is installed in root:imw-sp.\nsynctarget.edge.kubestellar.io \"sp-demo2\" created\nlocation.edge.kubestellar.io \"sp-demo2\" created\n")
		assert.Equal(t, "sp-demo2", u.ok(`kubectl get synctargets.edge.kubestellar.io sp-demo2 -o jsonpath='{.metadata.name}'`))

		// Its mailbox comes, although the space got the KubeStellar API only now.
		out = u.ok(`
mbws=$(kubectl get SyncTarget sp-demo2 -o jsonpath="{.metadata.annotations['kcp\.io/cluster']}-mb-{.metadata.uid}")
kubectl kubestellar ws root >/dev/null
for i in $(seq 120); do
  if kubectl kubestellar ws tree | grep -q -- "$mbws"; then break; fi
  sleep 1
done
kubectl kubestellar ws tree | grep -- "$mbws"
`)
		assert.Regexp(t, `^    │   [├└]── [0-9a-z]{16}-mb-[-0-9a-f]{36}\n$`, out)

		// Again, the way the documents enter a space first; a second run changes nothing.
		out = u.ok(`
kubectl kubestellar ws root:imw-sp
kubectl kubestellar ensure location sp-demo2 env=prod
`)
		assert.Equal(t, "Current workspace is \"root:imw-sp\".\nCurrent workspace is \"root:imw-sp\".\n"+
			"synctarget.edge.kubestellar.io \"sp-demo2\" unchanged\nlocation.edge.kubestellar.io \"sp-demo2\" unchanged\n", out)

		// --imw as the documents write it: a name under root. The command ends in that space.
		out = u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ensure location --imw imw-sp sp-demo1 foo=bar the-word=the-bird
kubectl kubestellar ws .
`)
		assert.Equal(t, "Current workspace is \"root\".\nCurrent workspace is \"root:imw-sp\".\n"+
			"synctarget.edge.kubestellar.io \"sp-demo1\" created\nlocation.edge.kubestellar.io \"sp-demo1\" created\n"+
			"Current workspace is \"root:imw-sp\".\n", out)
		assert.Equal(t, "bar the-bird", u.ok(`kubectl get location.edge.kubestellar.io sp-demo1 -o jsonpath='{.metadata.labels.foo} {.metadata.labels.the-word}'`))

		// remove location works in the current space too, twice.
		out = u.ok(`
kubectl kubestellar ws root:imw-sp
kubectl kubestellar remove location sp-demo1
kubectl kubestellar remove location sp-demo1
`)
		assert.Contains(t, out, `synctarget.edge.kubestellar.io "sp-demo1" deleted`)
		assert.Contains(t, out, `synctarget.edge.kubestellar.io "sp-demo1" was not there`)

		// Where there is no inventory space to default to, the error names --imw.
		u.fails("the current space root is not an inventory management space: name the inventory management space with --imw", `
kubectl kubestellar ws root
kubectl kubestellar ensure location sp-demo3 env=prod
`)
		u.fails("the current space root:espw is not an inventory management space", `
kubectl kubestellar ws root:espw
kubectl kubestellar prep-for-syncer sp-demo2
`)
	})

	t.Run("ensure wmw makes the new space current", func(t *testing.T) {
		u := c.newUser(t)
		out := u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ensure wmw wmw-sp
`)
		assert.True(t, strings.HasSuffix(out, "Current workspace is \"root:wmw-sp\".\n"), out)
		assert.Equal(t, "Current workspace is \"root:wmw-sp\".\n", u.ok(`kubectl kubestellar ws .`))
		// The KubeStellar API is there: an EdgePlacement can be listed in the current space.
		u.ok(`kubectl get edgeplacements.edge.kubestellar.io`)
		out = u.ok(`
kubectl kubestellar ws ..
kubectl kubestellar ensure wmw wmw-sp
`)
		assert.Equal(t, "Current workspace is \"root\".\nspace \"root:wmw-sp\" unchanged\nCurrent workspace is \"root:wmw-sp\".\n", out)
	})

	t.Run("find a mailbox, wait for it in the tree, and go into it", func(t *testing.T) {
		u := c.newUser(t)
		// A SyncTarget made by ensure location, and one made with kubectl apply: the mailbox
		// controller annotates the latter.
		u.ok(`
kubectl kubestellar ws root:imw1
kubectl kubestellar ensure location sp-florin loc-name=sp-florin env=prod
kubectl apply -f - <<EOF
apiVersion: edge.kubestellar.io/v2alpha1
kind: SyncTarget
metadata:
  name: sp-guilder
  labels:
    id: sp-guilder
EOF
`)
		imwID := u.ok(`
kubectl kubestellar ws root >/dev/null
kubectl get space imw1 -o jsonpath='{.status.cluster}'
`)
		require.Regexp(t, `^[0-9a-z]{16}$`, imwID)
		for _, name := range []string{"sp-florin", "sp-guilder"} {
			out := u.ok(`
kubectl kubestellar ws root:imw1
for i in $(seq 120); do
  mbws=` + "`" + `kubectl get synctargets.edge.kubestellar.io ` + name + ` -o jsonpath="{.metadata.annotations['kcp\.io/cluster']}-mb-{.metadata.uid}"` + "`" + `
  case "$mbws" in -mb-*) sleep 1 ;; *) break ;; esac
done
echo "mailbox workspace name = $mbws"
`)
			uid := u.ok(`kubectl get synctargets.edge.kubestellar.io ` + name + ` -o jsonpath='{.metadata.uid}'`)
			mbws := imwID + "-mb-" + uid
			assert.Contains(t, out, "mailbox workspace name = "+mbws+"\n", name)

			// The documents wait for the mailbox to show in `ws tree`.
			tree := u.ok(`
kubectl kubestellar ws root
for i in $(seq 120); do
  if kubectl kubestellar ws tree | grep "\-mb\-" | grep -q ` + mbws + `; then break; fi
  sleep 1
done
kubectl kubestellar ws tree
`)
			assert.Regexp(t, regexp.MustCompile(`(?m)^    [├└]── espw\n(    │   [├└]── .*\n)*    │   [├└]── `+mbws+`$`), tree, "the mailbox is under espw")

			// Into the mailbox, as root:NAME and as a bare name; the context's namespace is it.
			say := "Current workspace is \"root:espw\", namespace \"" + mbws + "\" (the mailbox of SyncTarget \"" + name + "\" in root:imw1).\n"
			out = u.ok(`
kubectl kubestellar ws root:` + mbws + `
kubectl config view --minify -o jsonpath='{.contexts[0].context.namespace}{"\n"}'
kubectl kubestellar ws .
`)
			assert.Equal(t, say+mbws+"\n"+say, out)
			out = u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ws ` + mbws + `
kubectl get serviceaccount default -o name
`)
			assert.Contains(t, out, say+"serviceaccount/default\n")

			// Out of the mailbox: the namespace goes; "-" comes back into it.
			out = u.ok(`
kubectl kubestellar ws ..
kubectl config view --minify -o jsonpath='[{.contexts[0].context.namespace}]{"\n"}'
kubectl kubestellar ws -
`)
			assert.Equal(t, "Current workspace is \"root\".\n[]\n"+say, out)
		}
	})

	t.Run("ws: ~, -, create, tree, and names that start with root", func(t *testing.T) {
		u := c.newUser(t)
		out := u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ws create rooty
kubectl kubestellar ws create rooty
kubectl kubestellar ws rooty
kubectl kubestellar ws ~
kubectl kubestellar ws -
kubectl kubestellar ws '~'
`)
		assert.Equal(t, "Current workspace is \"root\".\n"+
			"Workspace \"rooty\" created. Waiting for it to be ready...\nWorkspace \"rooty\" is ready to use.\n"+
			"Workspace \"rooty\" already exists.\nWorkspace \"rooty\" is ready to use.\n"+
			"Current workspace is \"root:rooty\".\n"+
			"Current workspace is \"root\".\n"+
			"Current workspace is \"root:rooty\".\n"+
			"Current workspace is \"root\".\n", out)
		assert.Contains(t, u.ok(`kubectl kubestellar ws tree`), "\n    ├── rooty\n")
		assert.Equal(t, "Current workspace is \"root:rooty\".\n.\n└── root:rooty\n", u.ok(`
kubectl kubestellar ws root:rooty
kubectl kubestellar ws tree
`))
		// The documents' way to make a space and go there.
		out = u.ok(`
kubectl kubestellar ws root
kubectl kubestellar ws create ws-sp1 --enter
kubectl get namespaces default -o name
`)
		assert.True(t, strings.HasSuffix(out, "Current workspace is \"root:ws-sp1\".\nnamespace/default\n"), out)

		fresh := c.newUser(t)
		fresh.fails("has no previous space yet", `kubectl kubestellar ws -`)
		fresh.fails(`space root:nosuch-sp: no such space`, `kubectl kubestellar ws nosuch-sp`)
		fresh.fails(`space path "a:b" must be "root", "root:NAME" or a NAME under root`, `kubectl kubestellar ws a:b`)
		fresh.fails(`space "root" has no parent`, `kubectl kubestellar ws ..`)
	})
}
