package server

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"

	"github.com/kubestellar/kubestellar/pkg/pki"
)

// countingAuthn counts the verifications the real authenticator it wraps makes.
type countingAuthn struct {
	authn authenticator.Request
	calls atomic.Int32
}

func (c *countingAuthn) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	c.calls.Add(1)
	return c.authn.AuthenticateRequest(r)
}

// clockFunc is a clock the test sets.
type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

func requestWith(certs ...*x509.Certificate) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "https://proxy.test/clusters/root/api", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: certs}
	return r
}

func TestVerifiedChains(t *testing.T) {
	ca, err := pki.NewCA("clients")
	require.NoError(t, err)
	other, err := pki.NewCA("clients")
	require.NoError(t, err)
	inner := &countingAuthn{authn: x509request.New(
		x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		x509request.CommonNameUserConversion)}
	clock := time.Now()
	now := func() time.Time { return clock }
	chains := newVerifiedChains(inner, clockFunc(func() time.Time { return now() }))

	alice, err := ca.Issue(pki.CertSpec{CommonName: "alice", Organization: []string{"team-a"}, Usage: pki.ClientUsage})
	require.NoError(t, err)
	bob, err := ca.Issue(pki.CertSpec{CommonName: "bob", Usage: pki.ClientUsage})
	require.NoError(t, err)
	forged, err := other.Issue(pki.CertSpec{CommonName: "alice", Organization: []string{"system:masters"}, Usage: pki.ClientUsage})
	require.NoError(t, err)

	t.Run("the identity is the certificate's, verified once", func(t *testing.T) {
		for range 5 {
			resp, ok, err := chains.AuthenticateRequest(requestWith(alice.Cert))
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, "alice", resp.User.GetName())
			assert.Equal(t, []string{"team-a"}, resp.User.GetGroups())
		}
		assert.Equal(t, int32(1), inner.calls.Load())
		resp, ok, err := chains.AuthenticateRequest(requestWith(bob.Cert))
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "bob", resp.User.GetName(), "another certificate is another identity")
		assert.Equal(t, int32(2), inner.calls.Load())
	})

	t.Run("a certificate of another CA is refused every time", func(t *testing.T) {
		before := inner.calls.Load()
		for range 3 {
			_, ok, err := chains.AuthenticateRequest(requestWith(forged.Cert))
			assert.False(t, ok && err == nil, "a certificate of another CA with a known name is refused")
		}
		assert.Equal(t, before+3, inner.calls.Load(), "a refusal is not remembered")
		_, ok, err := chains.AuthenticateRequest(requestWith(forged.Cert, alice.Cert))
		assert.False(t, ok && err == nil, "a verified certificate behind an unverified leaf does not make it verified")
	})

	t.Run("a chain is verified again after the TTL", func(t *testing.T) {
		before := inner.calls.Load()
		clock = clock.Add(verifiedChainsTTL + time.Second)
		_, ok, err := chains.AuthenticateRequest(requestWith(alice.Cert))
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, before+1, inner.calls.Load())
	})

	t.Run("a certificate that expires is refused from then on", func(t *testing.T) {
		now = time.Now
		brief, err := ca.IssueFor(pki.CertSpec{CommonName: "carol", Usage: pki.ClientUsage}, 1500*time.Millisecond)
		require.NoError(t, err)
		_, ok, err := chains.AuthenticateRequest(requestWith(brief.Cert))
		require.NoError(t, err)
		require.True(t, ok, "valid now")
		time.Sleep(time.Until(brief.Cert.NotAfter) + 100*time.Millisecond)
		_, ok, err = chains.AuthenticateRequest(requestWith(brief.Cert))
		assert.False(t, ok && err == nil, "a certificate past its NotAfter is refused, though it was verified before")
	})

	t.Run("no client certificate goes to the authenticator as it is", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodGet, "https://proxy.test/", nil)
		_, ok, err := chains.AuthenticateRequest(r)
		require.NoError(t, err)
		assert.False(t, ok)
	})
}
