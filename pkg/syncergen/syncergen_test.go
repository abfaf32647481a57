package syncergen

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

func TestManifestNamesTheDeploymentLikeItsNamespace(t *testing.T) {
	out, ns, err := Manifest(ManifestOptions{
		Name: "guilder", SyncTargetUID: "u1", Mailbox: "id-mb-u1", Image: "registry.example/syncer:1",
		Server: "https://core.example:6443/clusters/root:espw", CA: []byte("ca"), Token: "t",
	})
	require.NoError(t, err)
	assert.Regexp(t, `^kubestellar-syncer-guilder-[a-z0-9]{8}$`, ns)
	names := map[string]string{}
	var saOfPod string
	for _, doc := range strings.Split(string(out), "---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Template struct {
					Spec struct {
						ServiceAccountName string `json:"serviceAccountName"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
		names[obj.Kind] = obj.Metadata.Name
		if obj.Kind == "Deployment" {
			saOfPod = obj.Spec.Template.Spec.ServiceAccountName
		}
	}
	for _, kind := range []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"} {
		assert.Equal(t, ns, names[kind], kind)
	}
	assert.Equal(t, ns, saOfPod)
	assert.Equal(t, "kubestellar-syncer-guilder", names["Secret"])
}

func TestLoopbackHost(t *testing.T) {
	for server, want := range map[string]bool{
		"https://127.0.0.1:6443/clusters/root:espw": true,
		"https://127.3.2.1:6443":                    true,
		"https://[::1]:6443":                        true,
		"https://localhost:6443":                    true,
		"https://ks.localhost":                      true,
		"https://10.0.2.15:6443":                    false,
		"https://kubestellar.example.com:443":       false,
		"::not a url":                               false,
	} {
		_, got := LoopbackHost(server)
		assert.Equal(t, want, got, server)
	}
}

func clusterRoleRules(t *testing.T, manifest []byte) []rbacv1.PolicyRule {
	t.Helper()
	for _, doc := range strings.Split(string(manifest), "---\n") {
		role := &rbacv1.ClusterRole{}
		require.NoError(t, yaml.Unmarshal([]byte(doc), role))
		if role.Kind == "ClusterRole" {
			return role.Rules
		}
	}
	t.Fatal("the manifest has no ClusterRole")
	return nil
}

func TestWECRules(t *testing.T) {
	opts := ManifestOptions{
		Name: "guilder", SyncTargetUID: "u1", Mailbox: "id-mb-u1", Image: "registry.example/syncer:1",
		Server: "https://core.example:6443/clusters/root:espw", CA: []byte("ca"), Token: "t",
	}
	out, _, err := Manifest(opts)
	require.NoError(t, err)
	assert.Equal(t, []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}}, clusterRoleRules(t, out),
		"by default the syncer may downsync anything")

	rules, err := ReadRules([]byte(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: whatever}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list, watch, create, update, patch, delete]}
- {apiGroups: [apps], resources: [deployments], verbs: ["*"]}
`), "rules.yaml")
	require.NoError(t, err)
	opts.Rules = rules
	out, _, err = Manifest(opts)
	require.NoError(t, err)
	assert.Equal(t, append(append([]rbacv1.PolicyRule(nil), BaseRules...), rules...), clusterRoleRules(t, out))

	for text, want := range map[string]string{
		"rules: []": "rules.yaml: rules is empty",
		"rules: [{apiGroups: [''], resources: [pods]}]": "rules.yaml: rules[0].verbs is empty",
		"rules: [{apiGroups: [''], verbs: [get]}]":      "rules.yaml: rules[0] names no resources and no nonResourceURLs",
		"rules: [{resources: [pods], verbs: [get]}]":    `rules.yaml: rules[0].apiGroups is empty; "" is the core group`,
		"rules: {not: a list}":                          "rules.yaml: not a YAML document with a rules field",
	} {
		_, err := ReadRules([]byte(text), "rules.yaml")
		require.Error(t, err, text)
		assert.Contains(t, err.Error(), want, text)
	}
}
