// Package pki creates and persists the certificates and keys KubeStellar needs: certificate
// authorities, serving certificates, client certificates and service-account signing keys.
// Everything is written once and re-used, so that what was handed out stays valid across
// restarts. Certificate authorities are never replaced; issued certificates are renewed
// (issued anew, from the same CA) once two thirds of their validity has passed (Due).
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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
	// LeafValidity is how long a certificate issued here is valid unless the issuer asks
	// for another validity.
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

// Issue signs a new certificate with the CA, valid for LeafValidity.
func (kp *KeyPair) Issue(spec CertSpec) (*KeyPair, error) {
	return kp.IssueFor(spec, LeafValidity)
}

// IssueFor signs a new certificate with the CA, valid for validity from now (and back-dated
// a little, for slow clocks).
func (kp *KeyPair) IssueFor(spec CertSpec, validity time.Duration) (*KeyPair, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("certificate %q: validity %s is not positive", spec.CommonName, validity)
	}
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
		NotAfter:              now.Add(validity),
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

// EnsureIssued is EnsureIssuedFor with LeafValidity.
func (kp *KeyPair) EnsureIssued(certFile, keyFile string, spec CertSpec) (*KeyPair, error) {
	issued, _, err := kp.EnsureIssuedFor(certFile, keyFile, spec, LeafValidity, time.Now())
	return issued, err
}

// EnsureIssuedFor loads the certificate stored in the two files when it was signed by the CA,
// covers everything spec asks for and is not Due at now; otherwise it issues one valid for
// validity and stores it. renewed says whether it issued one.
func (kp *KeyPair) EnsureIssuedFor(certFile, keyFile string, spec CertSpec, validity time.Duration, now time.Time) (pair *KeyPair, renewed bool, err error) {
	if existing, err := Load(certFile, keyFile); err == nil && kp.signed(existing.Cert) && covers(existing.Cert, spec) &&
		!Due(existing.Cert, validity, now) {
		return existing, false, nil
	}
	// Two processes sharing the files (replicas sharing one PKI) may renew at the same
	// moment; each file is replaced whole, but the certificate of one could end up beside
	// the key of the other. Reading the pair back catches that, and issuing again mends it.
	for range 3 {
		issued, err := kp.IssueFor(spec, validity)
		if err != nil {
			return nil, false, err
		}
		if err := issued.Write(certFile, keyFile); err != nil {
			return nil, false, err
		}
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
			return issued, true, nil
		}
	}
	return nil, false, fmt.Errorf("%s and %s were changed by someone else while being renewed", certFile, keyFile)
}

// RenewalFraction is the part of a certificate's validity after which it is renewed: what
// is left (a third) leaves every user of the files time to pick the new one up.
const RenewalFraction = 2.0 / 3

// RenewAt is when a certificate issued for validity is renewed: once RenewalFraction of
// validity has passed since it was issued, that is when less than the rest is left before
// it expires. It is counted back from NotAfter, so that the back-dating of NotBefore does not
// count; a certificate issued earlier for a longer validity is renewed when a third of the
// validity asked now is left.
func RenewAt(cert *x509.Certificate, validity time.Duration) time.Time {
	return cert.NotAfter.Add(-time.Duration(float64(validity) * (1 - RenewalFraction)))
}

// Due says whether a certificate issued for validity is to be renewed at now.
func Due(cert *x509.Certificate, validity time.Duration, now time.Time) bool {
	return !now.Before(RenewAt(cert, validity))
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

// covers says whether cert is still good for spec: same subject, all names.
func covers(cert *x509.Certificate, spec CertSpec) bool {
	if cert.Subject.CommonName != spec.CommonName || !slices.Equal(cert.Subject.Organization, spec.Organization) {
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

// WriteFileAtomic writes through a temporary file and a rename, so that a crash never leaves a
// half-written certificate, key or kubeconfig behind, and a reader sees the old content or the
// new, never part of either.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	return writeFileAtomic(path, data, mode)
}

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
