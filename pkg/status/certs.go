package status

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"k8s.io/client-go/rest"
)

// ExpiryWarningWindow is how long before a certificate expires CheckCertificates warns of it.
const ExpiryWarningWindow = 30 * 24 * time.Hour

// CertificateWarning is a certificate, seen from the client, that expires soon.
type CertificateWarning struct {
	// Certificate says which certificate it is.
	Certificate string
	// NotAfter is when it expires.
	NotAfter time.Time
	// Advice says what to do.
	Advice string
}

// String is the warning as one sentence.
func (w CertificateWarning) String() string {
	return fmt.Sprintf("%s expires on %s; %s", w.Certificate, w.NotAfter.UTC().Format(time.RFC3339), w.Advice)
}

// CheckCertificates looks at the certificates a client with cfg sees: its own client
// certificate, and the serving certificate the server presents in the TLS handshake. It
// returns a warning for each that expires within ExpiryWarningWindow of now (or has expired),
// and none otherwise. A client without a client certificate, or a plain HTTP server, has
// nothing to check; a server that cannot be reached is an error.
func CheckCertificates(ctx context.Context, cfg *rest.Config, now time.Time) ([]CertificateWarning, error) {
	var warnings []CertificateWarning
	soon := func(cert *x509.Certificate) bool { return cert.NotAfter.Before(now.Add(ExpiryWarningWindow)) }

	client, err := clientCertificate(cfg)
	if err != nil {
		return nil, err
	}
	if client != nil && soon(client) {
		warnings = append(warnings, CertificateWarning{
			Certificate: fmt.Sprintf("the client certificate of user %q in your kubeconfig", client.Subject.CommonName),
			NotAfter:    client.NotAfter,
			Advice: "the space server renews its own copy well before, so get a new kubeconfig before then " +
				"(kubectl kubestellar get-external-kubeconfig, or copy the space server's admin.kubeconfig again); it trusts the same CA",
		})
	}

	serving, err := servingCertificate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if serving != nil && soon(serving) {
		warnings = append(warnings, CertificateWarning{
			Certificate: fmt.Sprintf("the serving certificate of %s (%q)", cfg.Host, serving.Subject.CommonName),
			NotAfter:    serving.NotAfter,
			Advice: "the space server renews the certificates it issued once two thirds of their lifetime have passed, without a restart, " +
				"so this one is not renewing: see its log and its kubestellar_certificate_expiration_timestamp_seconds metric, " +
				"or renew the certificate you gave it with --tls-sni-cert-key",
		})
	}
	return warnings, nil
}

// WriteCertificateWarnings prints one line per warning.
func WriteCertificateWarnings(w io.Writer, warnings []CertificateWarning) error {
	for _, warning := range warnings {
		if _, err := fmt.Fprintf(w, "Warning: %s\n", warning); err != nil {
			return err
		}
	}
	return nil
}

// clientCertificate is the client certificate cfg presents, or nil when none.
func clientCertificate(cfg *rest.Config) (*x509.Certificate, error) {
	data := cfg.CertData
	if len(data) == 0 && cfg.CertFile != "" {
		read, err := os.ReadFile(cfg.CertFile)
		if err != nil {
			return nil, fmt.Errorf("reading the client certificate %s: %w", cfg.CertFile, err)
		}
		data = read
	}
	if len(data) == 0 {
		return nil, nil
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("the client certificate of the kubeconfig is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the client certificate of the kubeconfig: %w", err)
	}
	return cert, nil
}

// servingCertificate is the certificate the server at cfg.Host presents, or nil for plain
// HTTP. The handshake does not verify it, since an expired one must be seen to be reported:
// the certificate is only looked at, and nothing is sent over the connection.
func servingCertificate(ctx context.Context, cfg *rest.Config) (*x509.Certificate, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("server %q: %w", cfg.Host, err)
	}
	if u.Scheme != "https" {
		return nil, nil
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	serverName := cfg.ServerName
	if serverName == "" {
		serverName = u.Hostname()
	}
	// Only the certificate is read; no request is sent, so no credential is presented.
	dialer := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		Config: &tls.Config{
			ServerName:         serverName,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, //nolint:gosec // the certificate is only looked at, never trusted: nothing is sent.
		},
	}
	conn, err := dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("reading the serving certificate of %s: %w", cfg.Host, err)
	}
	defer conn.Close()
	peers := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(peers) == 0 {
		return nil, fmt.Errorf("%s presented no serving certificate", cfg.Host)
	}
	return peers[0], nil
}
