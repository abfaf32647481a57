package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnsureCAIsMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "private", "ca.key")
	ca, err := EnsureCA(cert, key, "test-ca")
	require.NoError(t, err)
	assert.True(t, ca.Cert.IsCA)
	assert.Equal(t, "test-ca", ca.Cert.Subject.CommonName)

	again, err := EnsureCA(cert, key, "test-ca")
	require.NoError(t, err)
	assert.Equal(t, ca.CertPEM, again.CertPEM, "an existing CA is never replaced")

	info, err := os.Stat(key)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the key is private")

	require.NoError(t, os.Remove(key))
	_, err = EnsureCA(cert, key, "test-ca")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "found only one of")
}

func TestEnsureIssued(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("test-ca")
	require.NoError(t, err)
	cert, key := filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key")
	spec := CertSpec{CommonName: "server", DNSNames: []string{"a.example"}, IPs: []net.IP{net.IPv4(10, 0, 0, 1)}, Usage: ServerUsage}

	first, err := ca.EnsureIssued(cert, key, spec)
	require.NoError(t, err)
	assert.NoError(t, first.Cert.CheckSignatureFrom(ca.Cert))
	assert.Equal(t, []string{"a.example"}, first.Cert.DNSNames)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, first.Cert.ExtKeyUsage)
	_, err = first.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "a.example"})
	assert.NoError(t, err)

	same, err := ca.EnsureIssued(cert, key, spec)
	require.NoError(t, err)
	assert.Equal(t, first.CertPEM, same.CertPEM, "a certificate that still covers the spec is re-used")

	spec.DNSNames = append(spec.DNSNames, "b.example")
	wider, err := ca.EnsureIssued(cert, key, spec)
	require.NoError(t, err)
	assert.NotEqual(t, first.CertPEM, wider.CertPEM, "a new name means a new certificate")
	assert.ElementsMatch(t, []string{"a.example", "b.example"}, wider.Cert.DNSNames)

	other, err := NewCA("other-ca")
	require.NoError(t, err)
	fromOther, err := other.EnsureIssued(cert, key, spec)
	require.NoError(t, err)
	assert.NoError(t, fromOther.Cert.CheckSignatureFrom(other.Cert), "a certificate from another CA is replaced")

	client, err := ca.Issue(CertSpec{CommonName: "alice", Organization: []string{"devs"}, Usage: ClientUsage})
	require.NoError(t, err)
	assert.Equal(t, []string{"devs"}, client.Cert.Subject.Organization)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, client.Cert.ExtKeyUsage)
}

func TestLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("test-ca")
	require.NoError(t, err)
	require.NoError(t, ca.Write(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")))
	loaded, err := Load(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	require.NoError(t, err)
	assert.Equal(t, ca.CertPEM, loaded.CertPEM)
	assert.Equal(t, ca.KeyPEM, loaded.KeyPEM)

	_, err = Load(filepath.Join(dir, "missing.crt"), filepath.Join(dir, "ca.key"))
	assert.ErrorContains(t, err, "missing.crt")
}

func TestEnsureIssuedForRenewsOnceTwoThirdsHavePassed(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("test-ca")
	require.NoError(t, err)
	cert, key := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	spec := CertSpec{CommonName: "client", Usage: ClientUsage}
	validity := 90 * time.Minute
	start := time.Now()

	first, renewed, err := ca.EnsureIssuedFor(cert, key, spec, validity, start)
	require.NoError(t, err)
	assert.True(t, renewed, "a missing certificate is issued")
	assert.WithinDuration(t, start.Add(validity), first.Cert.NotAfter, time.Minute)
	assert.WithinDuration(t, start.Add(60*time.Minute), RenewAt(first.Cert, validity), time.Minute)

	kept, renewed, err := ca.EnsureIssuedFor(cert, key, spec, validity, start.Add(59*time.Minute))
	require.NoError(t, err)
	assert.False(t, renewed, "before two thirds of the validity the certificate is kept")
	assert.Equal(t, first.CertPEM, kept.CertPEM)

	next, renewed, err := ca.EnsureIssuedFor(cert, key, spec, validity, start.Add(61*time.Minute))
	require.NoError(t, err)
	assert.True(t, renewed, "after two thirds of the validity the certificate is renewed")
	assert.NotEqual(t, first.Cert.SerialNumber, next.Cert.SerialNumber)
	assert.NoError(t, next.Cert.CheckSignatureFrom(ca.Cert), "by the same CA")
	onDisk, err := Load(cert, key)
	require.NoError(t, err)
	assert.Equal(t, next.CertPEM, onDisk.CertPEM, "in the same files")

	long, err := ca.Issue(spec)
	require.NoError(t, err)
	assert.False(t, Due(long.Cert, LeafValidity, time.Now()))
	assert.True(t, Due(long.Cert, LeafValidity, time.Now().Add(LeafValidity*2/3+time.Hour)))
}
