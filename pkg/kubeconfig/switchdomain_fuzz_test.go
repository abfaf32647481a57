package kubeconfig

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
)

const fuzzKubeconfig = `apiVersion: v1
kind: Config
current-context: root
clusters:
- name: root
  cluster: {server: "https://10.0.0.5:6443/clusters/root", certificate-authority: /old/ca.crt}
- name: base
  cluster: {server: "https://10.0.0.5:6443", certificate-authority-data: b2xk, tls-server-name: x}
- name: imw
  cluster: {server: "https://10.0.0.5:6443/clusters/root:imw1", insecure-skip-tls-verify: true}
- name: elsewhere
  cluster: {server: "https://example.com/k8s"}
contexts:
- name: root
  context: {cluster: root, user: admin}
- name: other
  context: {cluster: elsewhere, user: admin}
users:
- name: admin
  user: {token: t}
`

// FuzzSwitchDomain checks switch-domain on any kubeconfig and arguments: what it accepts
// still loads with clientcmd, every cluster of the context's server now reaches domain:port
// with the given CA and TLS verified, the path of each is kept, and other clusters are as
// they were.
func FuzzSwitchDomain(f *testing.F) {
	for _, seed := range []struct{ kubeconfig, context, domain, port string }{
		{fuzzKubeconfig, "root", "ks.example.org", "443"},
		{fuzzKubeconfig, "other", "ks.example.org", "8443"},
		{fuzzKubeconfig, "root", "::1", "6443"},
		{fuzzKubeconfig, "root", "[::1]", "6443"},
		{fuzzKubeconfig, "root", "a/b", "443"},
		{fuzzKubeconfig, "root", "a b", "443"},
		{fuzzKubeconfig, "root", "ks.example.org:1", "443"},
		{fuzzKubeconfig, "root", "user@host", "443"},
		{fuzzKubeconfig, "root", "ks", "0"},
		{fuzzKubeconfig, "root", "ks", "+443"},
		{fuzzKubeconfig, "nope", "ks", "443"},
		{"clusters:\n- name: c\ncontexts:\n- name: c\n  context: {cluster: c}\n", "c", "ks", "443"},
		{"clusters:\n- name: c\n  cluster: {server: 'https://h'}\n- name: d\ncontexts:\n- name: c\n  context: {cluster: c}\n", "c", "ks", "443"},
		// A cluster that skips TLS verification: what switch-domain writes must verify.
		{"clusters:\n- name: c\n  cluster: {server: \"https://h:443/x?y=1\", insecure-skip-tls-verify: true}\n- name: d\n  cluster: {server: \"https://H/z\"}\ncontexts:\n- name: c\n  context: {cluster: c}\n", "c", "::1", "8443"},
	} {
		f.Add([]byte(seed.kubeconfig), seed.context, seed.domain, seed.port)
	}
	caPEM := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	f.Fuzz(func(t *testing.T, data []byte, contextName, domain, port string) {
		cfg, err := clientcmd.Load(data)
		if err != nil {
			return
		}
		before, err := clientcmd.Load(data)
		require.NoError(t, err)
		var origin string
		if kctx, ok := cfg.Contexts[contextName]; ok {
			if c, ok := cfg.Clusters[kctx.Cluster]; ok && c != nil {
				origin, _ = originOf(c.Server)
			}
		}

		if err := SwitchDomain(cfg, contextName, domain, port, caPEM); err != nil {
			assert.NotEmpty(t, err.Error())
			return
		}
		require.NotEmpty(t, origin, "switch-domain accepted a context without a server URL")

		out, err := clientcmd.Write(*cfg)
		require.NoError(t, err)
		again, err := clientcmd.Load(out)
		require.NoError(t, err, "the rewritten kubeconfig does not load:\n%s", out)
		if contextName != "" {
			_, err = clientcmd.NewNonInteractiveClientConfig(*again, contextName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
			if err != nil {
				// Only what switch-domain does not touch (the user) may make the context unusable.
				assert.NotContains(t, err.Error(), "server", "context %q after switch-domain: %v", contextName, err)
			}
		}
		for name, c := range again.Clusters {
			old := before.Clusters[name]
			require.NotNil(t, old, "cluster %q appeared", name)
			if o, err := originOf(old.Server); err != nil || o != origin {
				assert.Equal(t, old.Server, c.Server, "cluster %q of another server", name)
				assert.Equal(t, old.CertificateAuthorityData, c.CertificateAuthorityData, "cluster %q of another server", name)
				continue
			}
			assert.False(t, c.InsecureSkipTLSVerify, "cluster %q skips TLS verification", name)
			assert.Equal(t, caPEM, c.CertificateAuthorityData, "cluster %q", name)
			assert.Empty(t, c.CertificateAuthority, "cluster %q", name)
			assert.Empty(t, c.TLSServerName, "cluster %q", name)
			u, err := url.Parse(c.Server)
			require.NoError(t, err, "cluster %q server %q", name, c.Server)
			want, err := url.Parse(old.Server)
			require.NoError(t, err)
			assert.Equal(t, want.Scheme, u.Scheme, "cluster %q", name)
			assert.Equal(t, net.JoinHostPort(strings.Trim(domain, "[]"), port), u.Host, "cluster %q server %q", name, c.Server)
			assert.Equal(t, strings.Trim(domain, "[]"), u.Hostname(), "cluster %q server %q", name, c.Server)
			assert.Equal(t, port, u.Port(), "cluster %q server %q", name, c.Server)
			assert.Equal(t, want.Path, u.Path, "cluster %q keeps its path", name)
			assert.Equal(t, want.RawQuery, u.RawQuery, "cluster %q keeps its query", name)
		}
	})
}
