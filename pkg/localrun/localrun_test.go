package localrun

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAdvertisedHost(t *testing.T) {
	ctx := t.Context()
	assert.Equal(t, "ks.example.test", (&Options{ExternalHostname: "ks.example.test", BindAddress: "10.1.2.3"}).advertisedHost(ctx),
		"--external-hostname wins")
	assert.Equal(t, "10.1.2.3", (&Options{BindAddress: "10.1.2.3"}).advertisedHost(ctx), "then --bind-address")
	assert.Equal(t, ReachableHost(ctx), (&Options{BindAddress: "0.0.0.0"}).advertisedHost(ctx), "every address is no address")
}

func TestReachableHostIsOfThisMachineAndNotLoopback(t *testing.T) {
	host := ReachableHost(t.Context())
	if host == "" {
		t.Skip("this machine has no address other machines can reach")
	}
	ip := net.ParseIP(host)
	if ip == nil {
		addrs, err := net.LookupHost(host)
		assert.NoError(t, err)
		assert.NotEmpty(t, addrs)
		return
	}
	assert.NotNil(t, ip.To4(), "an IPv4 address")
	assert.False(t, ip.IsLoopback())
	addrs, err := net.InterfaceAddrs()
	assert.NoError(t, err)
	var mine bool
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			mine = true
		}
	}
	assert.True(t, mine, "%s is an address of this machine", host)
}
