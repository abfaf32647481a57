package recipes

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecipesPlatform types the platform administrator's bare-process recipes: the build
// information, the admin kubeconfig that kubestellar start writes, and the teardown.
func TestRecipesPlatform(t *testing.T) {
	c := sharedCore(t)

	t.Run("kubestellar-version prints its build information", func(t *testing.T) {
		u := c.newUser(t)
		var info map[string]string
		out := u.ok("kubestellar-version")
		require.NoError(t, json.Unmarshal([]byte(out), &info), out)
		require.NotEmpty(t, info["major"], out)
		require.NotEmpty(t, info["minor"], out)
		assert.True(t, strings.HasPrefix(info["gitVersion"], "v"+info["major"]+"."+info["minor"]+"."),
			"major and minor come from gitVersion: %s", out)
		for _, key := range []string{"gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"} {
			assert.Contains(t, info, key)
		}
		assert.Equal(t, info["platform"]+"\n", u.ok("kubestellar-version platform"))
		u.fails(`Invalid component requested: "help"`, "kubestellar-version help")
	})

	t.Run("the admin kubeconfig names an address other machines reach, and verifies TLS", func(t *testing.T) {
		u := c.newUser(t)
		server := u.ok(`kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}'`)
		parsed, err := url.Parse(server)
		require.NoError(t, err)
		host := parsed.Hostname()
		assert.NotEqual(t, "localhost", host, server)
		if ip := net.ParseIP(host); ip != nil {
			assert.False(t, ip.IsLoopback(), "a WEC's syncer cannot reach %s", server)
		}
		assert.NotContains(t, u.ok("kubectl config view --raw"), "insecure-skip-tls-verify")
		// kubectl verifies the serving certificate against that address.
		assert.Contains(t, u.ok("kubectl get spaces"), "espw")
	})

	t.Run("kubestellar start says how to use it; kubestellar stop and remove-kubestellar tear it down", func(t *testing.T) {
		u := c.newUser(t)
		port, err := freePort()
		require.NoError(t, err)
		folder := filepath.Join(u.home, "platform-core")
		require.NoError(t, os.Mkdir(folder, 0o755))
		t.Cleanup(func() { u.sh("cd platform-core && remove-kubestellar") })

		out := u.ok(fmt.Sprintf("cd platform-core && kubestellar start --secure-port %d --controller-port 0 --ensure-imw '' --ensure-wmw '' --external-hostname 127.0.0.1", port))
		assert.Contains(t, out, "  export PATH="+c.bin+":$PATH\n")
		kubeconfig := filepath.Join(folder, ".kubestellar", "admin.kubeconfig")
		assert.Contains(t, out, "  export KUBECONFIG="+kubeconfig+"\n")
		// --external-hostname wins over the address found.
		assert.Contains(t, u.ok("export KUBECONFIG="+kubeconfig+"\nkubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}'"),
			fmt.Sprintf("https://127.0.0.1:%d", port))
		assert.Contains(t, u.ok("export KUBECONFIG="+kubeconfig+"\nkubectl get spaces"), "espw")

		out = u.ok("cd platform-core\nkubestellar stop\nremove-kubestellar")
		assert.Contains(t, out, "Stopped kubestellar-space-server")
		assert.Contains(t, out, "Removed the space server's state in "+filepath.Join(folder, ".kubestellar"))
		assert.Contains(t, out, "Removed the logs in "+filepath.Join(folder, "kubestellar-logs"))
		assert.NoDirExists(t, filepath.Join(folder, ".kubestellar"))
		assert.NoDirExists(t, filepath.Join(folder, "kubestellar-logs"))
		assert.Contains(t, u.ok("cd platform-core && remove-kubestellar"), "No KubeStellar state to remove")
		// Nothing listens on the port any more.
		u.fails("Connection refused", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d", port))
	})
}
