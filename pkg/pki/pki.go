// Package pki creates and persists the certificates and keys KubeStellar needs: certificate
// authorities, serving certificates, client certificates and service-account signing keys.
// Everything is written once and re-used, so that what was handed out stays valid across
// restarts.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

const (
	// CAValidity is how long a certificate authority made here is valid.
	CAValidity = 10 * 365 * 24 * time.Hour
	// LeafValidity is how long a certificate issued here is valid.
	LeafValidity = 5 * 365 * 24 * time.Hour
	// clockSkew back-dates certificates so that a slightly slow clock still accepts them.
	clockSkew = 5 * time.Minute
)

// KeyPair is a certificate with its private key, both also held as PEM.
type KeyPair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// Usage says what an issued certificate is for.
type Usage int

// The usages of issued certificates.
const (
	// ServerUsage is a TLS serving certificate.
	ServerUsage Usage = iota
	// ClientUsage is a TLS client certificate.
	ClientUsage
)

// CertSpec describes a certificate to issue.
type CertSpec struct {
	// CommonName is the subject CN; for client certificates, the user name.
	CommonName string
	// Organization is the subject O; for client certificates, the groups.
	Organization []string
	// DNSNames and IPs are the subject alternative names of a serving certificate.
	DNSNames []string
	IPs      []net.IP
	// Usage is what the certificate is for.
	Usage Usage
}

// NewCA makes a new self-signed certificate authority.
func NewCA(commonName string) (*KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	cert, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: commonName}, key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate %q: %w", commonName, err)
	}
	return newKeyPair(cert, key)
}

// Issue signs a new certificate with the CA.
func (kp *KeyPair) Issue(spec CertSpec) (*KeyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).SetInt64(math.MaxInt64))
	if err != nil {
		return nil, fmt.Errorf("creating serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.CommonName, Organization: spec.Organization},
		DNSNames:              spec.DNSNames,
		IPAddresses:           spec.IPs,
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(LeafValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	switch spec.Usage {
	case ServerUsage:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case ClientUsage:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return nil, fmt.Errorf("unknown certificate usage %d", spec.Usage)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, kp.Cert, key.Public(), kp.Key)
	if err != nil {
		return nil, fmt.Errorf("signing certificate %q: %w", spec.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate %q: %w", spec.CommonName, err)
	}
	return newKeyPair(cert, key)
}

// Pool returns a certificate pool holding only this certificate.
func (kp *KeyPair) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(kp.Cert)
	return pool
}

// Write stores the certificate and key as PEM files (the key readable by the owner only).
func (kp *KeyPair) Write(certFile, keyFile string) error {
	if err := writeFileAtomic(certFile, kp.CertPEM, 0o644); err != nil {
		return err
	}
	return writeFileAtomic(keyFile, kp.KeyPEM, 0o600)
}

// Load reads a certificate and key written by Write (or any PEM pair).
func Load(certFile, keyFile string) (*KeyPair, error) {
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading certificate %s: %w", certFile, err)
	}
	keyAny, err := keyutil.PrivateKeyFromFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading key %s: %w", keyFile, err)
	}
	key, ok := keyAny.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s cannot sign", keyFile)
	}
	return newKeyPair(certs[0], key)
}

// EnsureCA loads the CA stored in the two files, or makes and stores a new one when neither
// file exists. Only one of the two existing is an error: guessing could silently replace a
// CA that clients trust.
func EnsureCA(certFile, keyFile, commonName string) (*KeyPair, error) {
	return ensure(certFile, keyFile, func() (*KeyPair, error) { return NewCA(commonName) })
}

// EnsureIssued loads the certificate stored in the two files when it was signed by ca and
// covers everything spec asks for; otherwise it issues and stores a new one.
func (kp *KeyPair) EnsureIssued(certFile, keyFile string, spec CertSpec) (*KeyPair, error) {
	if existing, err := Load(certFile, keyFile); err == nil && kp.signed(existing.Cert) && covers(existing.Cert, spec) {
		return existing, nil
	}
	issued, err := kp.Issue(spec)
	if err != nil {
		return nil, err
	}
	if err := issued.Write(certFile, keyFile); err != nil {
		return nil, err
	}
	return issued, nil
}

func ensure(certFile, keyFile string, create func() (*KeyPair, error)) (*KeyPair, error) {
	certExists, keyExists := exists(certFile), exists(keyFile)
	switch {
	case certExists && keyExists:
		return Load(certFile, keyFile)
	case certExists != keyExists:
		return nil, fmt.Errorf("found only one of %s and %s; restore the other or remove both to start afresh", certFile, keyFile)
	}
	kp, err := create()
	if err != nil {
		return nil, err
	}
	if err := kp.Write(certFile, keyFile); err != nil {
		return nil, err
	}
	return kp, nil
}

func (kp *KeyPair) signed(cert *x509.Certificate) bool {
	return cert.CheckSignatureFrom(kp.Cert) == nil
}

// covers says whether cert is still good for spec: same subject, all names, not expiring soon.
func covers(cert *x509.Certificate, spec CertSpec) bool {
	if cert.Subject.CommonName != spec.CommonName || !slices.Equal(cert.Subject.Organization, spec.Organization) {
		return false
	}
	if time.Until(cert.NotAfter) < 30*24*time.Hour {
		return false
	}
	for _, name := range spec.DNSNames {
		if !slices.Contains(cert.DNSNames, name) {
			return false
		}
	}
	for _, ip := range spec.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return key, nil
}

func newKeyPair(cert *x509.Certificate, key crypto.Signer) (*KeyPair, error) {
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, fmt.Errorf("encoding key: %w", err)
	}
	certPEM, err := certutil.EncodeCertificates(cert)
	if err != nil {
		return nil, fmt.Errorf("encoding certificate: %w", err)
	}
	return &KeyPair{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// writeFileAtomic writes through a temporary file and a rename, so a crash never leaves a
// half-written certificate or key behind.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating directory for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
