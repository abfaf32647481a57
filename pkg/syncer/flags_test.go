package syncer

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes a kubeconfig with one context per entry of namespaces (context name →
// its namespace), the first one current.
func writeKubeconfig(t *testing.T, current string, namespaces map[string]string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["mailbox"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
	cfg.AuthInfos["syncer"] = &clientcmdapi.AuthInfo{Token: "t"}
	for name, ns := range namespaces {
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "mailbox", AuthInfo: "syncer", Namespace: ns}
	}
	cfg.CurrentContext = current
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

func TestMailboxFromKubeconfig(t *testing.T) {
	path := writeKubeconfig(t, "bare", map[string]string{"bare": "", "boxed": "imw1-mb-1234", "default-ns": "default"})
	options := func(f *Flags) (Options, error) {
		f.FromKubeconfig, f.ToKubeconfig = path, path
		return f.Options()
	}

	t.Run("a context without a namespace is an error that says how to fix it", func(t *testing.T) {
		_, err := options(NewFlags())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "--from-kubeconfig "+path)
		assert.Contains(t, err.Error(), `context "bare" sets no namespace`)
		assert.Contains(t, err.Error(), "--mailbox")
		assert.Contains(t, err.Error(), "kubectl config set-context bare --namespace=")
	})
	t.Run("the context's namespace is the mailbox", func(t *testing.T) {
		f := NewFlags()
		f.FromContext = "boxed"
		opts, err := options(f)
		require.NoError(t, err)
		assert.Equal(t, "imw1-mb-1234", opts.Mailbox)
	})
	t.Run("a namespace named default set in the context is taken as it is", func(t *testing.T) {
		f := NewFlags()
		f.FromContext = "default-ns"
		opts, err := options(f)
		require.NoError(t, err)
		assert.Equal(t, "default", opts.Mailbox)
	})
	t.Run("--mailbox names the mailbox", func(t *testing.T) {
		f := NewFlags()
		f.Mailbox = "imw1-mb-5678"
		opts, err := options(f)
		require.NoError(t, err)
		assert.Equal(t, "imw1-mb-5678", opts.Mailbox)
	})
	t.Run("an unknown context is an error", func(t *testing.T) {
		f := NewFlags()
		f.FromContext = "nope"
		_, err := options(f)
		require.Error(t, err)
	})
}
