package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kubestellar/kubestellar/pkg/pki"
)

func TestCertRenewerPass(t *testing.T) {
	dir := t.TempDir()
	const validity = 90 * time.Second
	p, err := ensurePKI(dir, []string{"localhost"}, validity)
	require.NoError(t, err)
	_, err = ensureIdentities(p)
	require.NoError(t, err)
	_, err = ensureWebhookServing(p)
	require.NoError(t, err)
	// A serving certificate someone else added for a domain, from the server CA.
	domain, err := EnsureDomainCreds(dir, "ks.example.test")
	require.NoError(t, err)

	first, signer := map[string]*x509.Certificate{}, map[string]*pki.KeyPair{}
	for _, l := range p.leaves {
		first[l.name], signer[l.name] = l.current, l.ca
	}
	proxyCert, err := newFileCert(p.frontProxyClientCert(), p.frontProxyClientKey())
	require.NoError(t, err)
	transport := newRotatingTransport(proxyCert, func(tls.Certificate) *http.Transport { return &http.Transport{} })
	firstTransport := transport.current.Load()

	reg := prometheus.NewRegistry()
	r, err := newCertRenewer(p, reg)
	require.NoError(t, err)
	r.reloaders = []func() error{transport.reload}
	renewed := map[string]*pki.KeyPair{}
	r.onRenewed = func(name string, pair *pki.KeyPair) error {
		renewed[name] = pair
		return nil
	}
	ctx := context.Background()

	next := r.pass(ctx, time.Now())
	assert.Empty(t, renewed, "nothing is due yet")
	assert.InDelta(t, (validity * 2 / 3).Seconds(), next.Seconds(), 5, "the next pass is when the first certificate is due")
	assert.Same(t, firstTransport, transport.current.Load(), "an unchanged certificate keeps the transport")

	r.pass(ctx, time.Now().Add(61*time.Second))
	for name, cert := range first {
		pair := renewed[name]
		if assert.NotNil(t, pair, "%s is renewed", name) {
			assert.NotEqual(t, cert.SerialNumber, pair.Cert.SerialNumber, name)
			assert.NoError(t, pair.Cert.CheckSignatureFrom(signer[name].Cert), "%s is signed by the same CA", name)
		}
	}
	assert.NotSame(t, firstTransport, transport.current.Load(), "a renewed client certificate gets a new transport")
	domainName := "issued-kcp-DNS-ks.example.test"
	assert.NotContains(t, renewed, domainName, "a certificate issued for five years is not due after a minute")
	// Due, by the rule, once a third of the server's validity is left.
	r.pass(ctx, time.Now().Add(pki.LeafValidity-validity/4))
	if assert.Contains(t, renewed, domainName, "a serving certificate added to issued/ is renewed too") {
		domainPair, err := pki.Load(domain.CertFile, domain.KeyFile)
		require.NoError(t, err)
		assert.Equal(t, renewed[domainName].CertPEM, domainPair.CertPEM, "in its files")
		assert.Equal(t, []string{"ks.example.test"}, domainPair.Cert.DNSNames, "for the same names")
	}

	ca, err := pki.Load(p.caCert(), p.caKey())
	require.NoError(t, err)
	assert.Equal(t, p.CA.CertPEM, ca.CertPEM, "the CA is never replaced")

	families, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, families, 1)
	assert.Equal(t, CertificateExpiryMetric, families[0].GetName())
	values := map[string]float64{}
	for _, m := range families[0].GetMetric() {
		values[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	assert.Equal(t, float64(p.CA.Cert.NotAfter.Unix()), values["ca"])
	assert.Equal(t, float64(renewed["serving"].Cert.NotAfter.Unix()), values["serving"])
	assert.Contains(t, values, "identity-mailbox-controller")
	assert.Contains(t, values, "etcd-ca")
}
