package status

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"

	"github.com/kubestellar/kubestellar/pkg/pki"
)

// tlsServer serves TLS on loopback with the pair until the test ends, and returns its URL.
func tlsServer(t *testing.T, pair *pki.KeyPair) string {
	t.Helper()
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	require.NoError(t, err)
	listener, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	srv := &http.Server{ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(listener) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + listener.Addr().String() + "/clusters/root"
}

func TestCheckCertificates(t *testing.T) {
	ca, err := pki.NewCA("test-ca")
	require.NoError(t, err)
	issue := func(spec pki.CertSpec, validity time.Duration) *pki.KeyPair {
		t.Helper()
		pair, err := ca.IssueFor(spec, validity)
		require.NoError(t, err)
		return pair
	}
	serving := pki.CertSpec{CommonName: "kubestellar", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.ServerUsage}
	client := pki.CertSpec{CommonName: "alice", Usage: pki.ClientUsage}
	year := 365 * 24 * time.Hour
	longServer := tlsServer(t, issue(serving, year))
	shortServing := issue(serving, 10*24*time.Hour)
	shortServer := tlsServer(t, shortServing)
	longClient, shortClient := issue(client, year), issue(client, 10*24*time.Hour)
	config := func(host string, c *pki.KeyPair) *rest.Config {
		return &rest.Config{Host: host, TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM, CertData: c.CertPEM, KeyData: c.KeyPEM}}
	}
	ctx := t.Context()
	now := time.Now()

	warnings, err := CheckCertificates(ctx, config(longServer, longClient), now)
	require.NoError(t, err)
	assert.Empty(t, warnings, "nothing expires within 30 days")
	var out bytes.Buffer
	require.NoError(t, WriteCertificateWarnings(&out, warnings))
	assert.Empty(t, out.String(), "and nothing is printed")

	warnings, err = CheckCertificates(ctx, config(longServer, shortClient), now)
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Equal(t, shortClient.Cert.NotAfter, warnings[0].NotAfter)
	require.NoError(t, WriteCertificateWarnings(&out, warnings))
	assert.Contains(t, out.String(), `Warning: the client certificate of user "alice" in your kubeconfig expires on `+
		shortClient.Cert.NotAfter.UTC().Format(time.RFC3339))
	assert.Contains(t, out.String(), "kubectl kubestellar get-external-kubeconfig")

	warnings, err = CheckCertificates(ctx, config(shortServer, longClient), now)
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Equal(t, shortServing.Cert.NotAfter, warnings[0].NotAfter)
	assert.Contains(t, warnings[0].String(), "the serving certificate of "+shortServer)
	assert.Contains(t, warnings[0].String(), "kubestellar_certificate_expiration_timestamp_seconds")

	// A certificate that has expired already is seen too, and one read from a file.
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	require.NoError(t, shortClient.Write(certFile, keyFile))
	fromFile := &rest.Config{Host: shortServer, TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM, CertFile: certFile, KeyFile: keyFile}}
	warnings, err = CheckCertificates(ctx, fromFile, now.Add(11*24*time.Hour))
	require.NoError(t, err)
	assert.Len(t, warnings, 2)

	_, err = CheckCertificates(ctx, &rest.Config{Host: "https://127.0.0.1:1"}, now)
	assert.ErrorContains(t, err, "reading the serving certificate of https://127.0.0.1:1")
}
