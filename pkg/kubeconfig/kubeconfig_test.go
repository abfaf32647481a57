package kubeconfig

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestForSpaceServer(t *testing.T) {
	cfg := ForSpaceServer("https://localhost:6443/", "admin", Credentials{CA: []byte("ca"), CertData: []byte("c"), KeyData: []byte("k")})
	assert.Equal(t, "root", cfg.CurrentContext)
	assert.Equal(t, "https://localhost:6443/clusters/root", cfg.Clusters["root"].Server)
	assert.Equal(t, "https://localhost:6443", cfg.Clusters["base"].Server)
	assert.Equal(t, []byte("ca"), cfg.Clusters["base"].CertificateAuthorityData)
	assert.False(t, cfg.Clusters["root"].InsecureSkipTLSVerify)
	assert.Equal(t, "admin", cfg.Contexts["base"].AuthInfo)
	assert.Equal(t, []byte("c"), cfg.AuthInfos["admin"].ClientCertificateData)
}

func TestSwitchDomain(t *testing.T) {
	in := func() *clientcmdapi.Config {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["root"] = &clientcmdapi.Cluster{Server: "https://10.0.0.5:6443/clusters/root", CertificateAuthority: "/old/ca.crt"}
		cfg.Clusters["base"] = &clientcmdapi.Cluster{Server: "https://10.0.0.5:6443", CertificateAuthorityData: []byte("old")}
		cfg.Clusters["imw"] = &clientcmdapi.Cluster{Server: "https://10.0.0.5:6443/clusters/root:imw1", TLSServerName: "x"}
		cfg.Clusters["other-port"] = &clientcmdapi.Cluster{Server: "https://10.0.0.5:7443/clusters/root"}
		cfg.Clusters["elsewhere"] = &clientcmdapi.Cluster{Server: "https://example.com/k8s"}
		cfg.Contexts["root"] = &clientcmdapi.Context{Cluster: "root", AuthInfo: "admin"}
		cfg.Contexts["imw"] = &clientcmdapi.Context{Cluster: "imw", AuthInfo: "admin"}
		cfg.Contexts["other"] = &clientcmdapi.Context{Cluster: "elsewhere"}
		return cfg
	}

	cfg := in()
	require.NoError(t, SwitchDomain(cfg, "imw", "ks.example.org", "443", []byte("new-ca")))
	assert.Equal(t, "https://ks.example.org:443/clusters/root", cfg.Clusters["root"].Server)
	assert.Equal(t, "https://ks.example.org:443", cfg.Clusters["base"].Server)
	assert.Equal(t, "https://ks.example.org:443/clusters/root:imw1", cfg.Clusters["imw"].Server)
	for _, name := range []string{"root", "base", "imw"} {
		assert.Equal(t, []byte("new-ca"), cfg.Clusters[name].CertificateAuthorityData, name)
		assert.Empty(t, cfg.Clusters[name].CertificateAuthority, name)
		assert.Empty(t, cfg.Clusters[name].TLSServerName, name)
	}
	assert.Equal(t, "https://10.0.0.5:7443/clusters/root", cfg.Clusters["other-port"].Server, "another port is another server")
	assert.Equal(t, "https://example.com/k8s", cfg.Clusters["elsewhere"].Server)
	assert.Nil(t, cfg.Clusters["elsewhere"].CertificateAuthorityData)

	// The default port counts as the same origin.
	cfg = in()
	require.NoError(t, SwitchDomain(cfg, "other", "ks.example.org", "8443", []byte("ca")))
	assert.Equal(t, "https://ks.example.org:8443/k8s", cfg.Clusters["elsewhere"].Server)
	assert.Equal(t, "https://10.0.0.5:6443", cfg.Clusters["base"].Server)

	for _, tc := range []struct{ context, domain, port, want string }{
		{"nope", "d", "443", `context "nope" not found; the kubeconfig has "imw", "other", "root"`},
		{"root", "", "443", "the domain must not be empty"},
		{"root", "d", "http", `port "http" is not a valid port number: give a number from 1 to 65535`},
		{"root", "d", "70000", `port "70000" is not a valid port number: give a number from 1 to 65535`},
	} {
		err := SwitchDomain(in(), tc.context, tc.domain, tc.port, nil)
		require.Error(t, err)
		assert.Equal(t, tc.want, err.Error())
	}

	// Nil entries, which only configs built in code hold, are errors or skipped, not a panic.
	cfg = in()
	cfg.Contexts["empty"] = nil
	cfg.Clusters["gone"] = nil
	require.EqualError(t, SwitchDomain(cfg, "empty", "d", "443", nil), `context "empty" not found; the kubeconfig has "empty", "imw", "other", "root"`)
	require.NoError(t, SwitchDomain(cfg, "root", "ks.example.org", "443", []byte("ca")))
	cfg.Contexts["dangling"] = &clientcmdapi.Context{Cluster: "gone"}
	require.EqualError(t, SwitchDomain(cfg, "dangling", "d", "443", nil), `context "dangling" refers to cluster "gone", which is not in the kubeconfig`)
}
