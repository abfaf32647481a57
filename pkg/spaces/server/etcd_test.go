package server

import (
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
)

// A port found free can be taken before etcd binds it; the start is made again on other
// ports instead of failing the server.
func TestEmbeddedEtcdPortTaken(t *testing.T) {
	dir := t.TempDir()
	p, err := ensurePKI(dir+"/pki", []string{"localhost"}, time.Hour)
	require.NoError(t, err)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	asked := 0
	ports := func() (int, error) {
		asked++
		if asked <= 2 { // both ports of the first start: the client port is the one in use
			return takenPort, nil
		}
		return kubeapiserver.FreePort("127.0.0.1")
	}
	st, err := startEmbeddedEtcdOn(t.Context(), dir+"/etcd", p, ports)
	require.NoError(t, err, "the embedded etcd starts on other ports")
	defer st.stop()
	require.Len(t, st.Servers, 1)
	u, err := url.Parse(st.Servers[0])
	require.NoError(t, err)
	assert.NotEqual(t, strconv.Itoa(takenPort), u.Port(), "etcd does not claim the port in use")
	_, err = st.client.Put(t.Context(), etcdPrefix("probe"), "v")
	assert.NoError(t, err, "the etcd started serves")
	assert.Equal(t, 4, asked, "one start on the port in use, then one on new ports")
}

// Another failure is not taken for a port in use: it is reported at once.
func TestEmbeddedEtcdOtherFailure(t *testing.T) {
	dir := t.TempDir()
	p, err := ensurePKI(dir+"/pki", []string{"localhost"}, time.Hour)
	require.NoError(t, err)
	asked := 0
	_, err = startEmbeddedEtcdOn(t.Context(), dir+"/etcd", p, func() (int, error) {
		asked++
		return 0, assert.AnError
	})
	require.ErrorIs(t, err, assert.AnError)
	assert.Equal(t, 1, asked)
}
