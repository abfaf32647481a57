package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/kubestellar/kubestellar/pkg/pki"
)

// CertificateExpiryMetric is the name of the gauge giving, per certificate of the server (label
// "certificate": "ca", "serving", "admin", "identity-mailbox-controller", ...), when it expires,
// in seconds since the Unix epoch.
const CertificateExpiryMetric = "kubestellar_certificate_expiration_timestamp_seconds"

// renewCheckInterval bounds how long the renewer sleeps: it also reads the files again, so that
// a certificate renewed by another replica sharing the PKI is picked up, and so are metrics.
const renewCheckInterval = time.Minute

// renewRetryInterval is how soon a renewal that failed is tried again.
const renewRetryInterval = 10 * time.Second

// certRenewer renews the server's certificates once they are due (pki.Due), in the same files,
// and tells whoever holds a certificate in memory to load it again. Nothing here replaces a
// CA, so everything handed out before (kubeconfigs trusting the CA, certificates it signed)
// stays valid.
type certRenewer struct {
	pki *PKI
	// expiry is the CertificateExpiryMetric gauge.
	expiry *prometheus.GaugeVec
	// reloaders load their certificates again from the files; each is called after every
	// pass and does nothing when its files are unchanged.
	reloaders []func() error
	// onRenewed is called when the leaf of the given name has changed in its files (renewed
	// here or by another replica), to write the files derived from it (kubeconfigs with the
	// certificate inside, copies of it).
	onRenewed func(name string, pair *pki.KeyPair) error
	// others are the serving certificates that others issued into the PKI's issued/
	// (kubestellar-ensure-kcp-server-creds, init-in-cluster) from the server CA, by file.
	others map[string]*leaf
}

// newCertRenewer makes a renewer of p's certificates whose gauge is registered on reg.
func newCertRenewer(p *PKI, reg prometheus.Registerer) (*certRenewer, error) {
	expiry := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: CertificateExpiryMetric,
		Help: "When a certificate of the space server expires, in seconds since the Unix epoch; issued certificates are renewed once two thirds of their validity have passed, CAs never.",
	}, []string{"certificate"})
	if err := reg.Register(expiry); err != nil {
		return nil, fmt.Errorf("registering %s: %w", CertificateExpiryMetric, err)
	}
	return &certRenewer{pki: p, expiry: expiry, others: map[string]*leaf{}}, nil
}

// run renews certificates as they become due until ctx ends.
func (r *certRenewer) run(ctx context.Context) {
	for {
		next := r.pass(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// pass renews every leaf due at now, has the reloaders load what changed, and returns how long
// to wait before the next pass.
func (r *certRenewer) pass(ctx context.Context, now time.Time) time.Duration {
	logger := klog.FromContext(ctx)
	for _, ca := range r.pki.cas {
		r.expiry.WithLabelValues(ca.name).Set(float64(ca.pair.Cert.NotAfter.Unix()))
	}
	next := renewCheckInterval
	for _, l := range append(slices.Clone(r.pki.leaves), r.otherLeaves(logger)...) {
		pair, renewed, err := l.ca.EnsureIssuedFor(l.certFile, l.keyFile, l.spec, r.pki.validity, now)
		if err != nil {
			logger.Error(err, "Renewing a certificate failed; trying again", "certificate", l.name, "after", renewRetryInterval)
			next = min(next, renewRetryInterval)
			continue
		}
		r.expiry.WithLabelValues(l.name).Set(float64(pair.Cert.NotAfter.Unix()))
		next = min(next, pki.RenewAt(pair.Cert, r.pki.validity).Sub(now))
		if renewed {
			logger.Info("Renewed a certificate", "certificate", l.name, "file", l.certFile, "notAfter", pair.Cert.NotAfter)
		}
		// Another replica sharing the PKI may have renewed it: that, too, is written on.
		if pair.Cert.Equal(l.current) {
			continue
		}
		if r.onRenewed != nil {
			if err := r.onRenewed(l.name, pair); err != nil {
				logger.Error(err, "Writing what a renewed certificate goes into failed; trying again", "certificate", l.name)
				next = min(next, renewRetryInterval)
				continue
			}
		}
		l.current = pair.Cert
	}
	for _, reload := range r.reloaders {
		if err := reload(); err != nil {
			logger.Error(err, "Loading a renewed certificate failed; keeping the previous one")
			next = min(next, renewRetryInterval)
		}
	}
	return max(next, time.Second)
}

// otherLeaves finds the serving certificates in issued/ that the server did not issue itself
// but its CA signed: the server renews them too, for the same names, so that a serving
// certificate added for a domain does not expire unseen.
func (r *certRenewer) otherLeaves(logger klog.Logger) []*leaf {
	own := map[string]bool{}
	for _, l := range r.pki.leaves {
		own[l.certFile] = true
	}
	files, err := filepath.Glob(filepath.Join(filepath.Dir(r.pki.issued(servingCertName)), "*.crt"))
	if err != nil {
		logger.Error(err, "Listing the issued serving certificates")
	}
	var out []*leaf
	for _, certFile := range files {
		if own[certFile] {
			continue
		}
		if l := r.others[certFile]; l != nil {
			out = append(out, l)
			continue
		}
		name := strings.TrimSuffix(filepath.Base(certFile), ".crt")
		pair, err := pki.Load(certFile, r.pki.private(name))
		if err != nil {
			// Not a pair (yet): one being written is seen at the next pass.
			continue
		}
		if pair.Cert.CheckSignatureFrom(r.pki.CA.Cert) != nil || !slices.Contains(pair.Cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
			continue
		}
		l := &leaf{
			name: "issued-" + name, ca: r.pki.CA, certFile: certFile, keyFile: r.pki.private(name), current: pair.Cert,
			spec: pki.CertSpec{
				CommonName: pair.Cert.Subject.CommonName, Organization: pair.Cert.Subject.Organization,
				DNSNames: pair.Cert.DNSNames, IPs: pair.Cert.IPAddresses, Usage: pki.ServerUsage,
			},
		}
		r.others[certFile] = l
		out = append(out, l)
	}
	return out
}

// fileCert is a certificate and key read from files and held in memory, loaded again by
// reload, for TLS configurations built once that must follow renewals of the files.
type fileCert struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

// newFileCert loads the pair in the two files.
func newFileCert(certFile, keyFile string) (*fileCert, error) {
	c := &fileCert{certFile: certFile, keyFile: keyFile}
	if _, err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the files again and says whether they held another certificate. A pair that
// does not match (one file written, the other not yet) is an error and leaves the previous
// certificate in place.
func (c *fileCert) reload() (bool, error) {
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return false, fmt.Errorf("loading %s: %w", c.certFile, err)
	}
	if old := c.current.Load(); old != nil && len(old.Certificate) > 0 && bytes.Equal(old.Certificate[0], cert.Certificate[0]) {
		return false, nil
	}
	c.current.Store(&cert)
	return true, nil
}

// getCertificate is tls.Config.GetCertificate.
func (c *fileCert) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// rotatingTransport is an http.Transport presenting a client certificate read from files. When
// the certificate changes, later requests go through a new transport, so that they present the
// new certificate on new connections, while requests already under way (watches) finish on the
// old one; the old one's idle connections are closed. Servers that check the client
// certificate of every request (kube-apiserver does) would refuse requests on a connection
// made with a certificate that has since expired.
type rotatingTransport struct {
	cert    *fileCert
	build   func(tls.Certificate) *http.Transport
	current atomic.Pointer[http.Transport]
}

// newRotatingTransport makes a transport with build, presenting cert's certificate.
func newRotatingTransport(cert *fileCert, build func(tls.Certificate) *http.Transport) *rotatingTransport {
	t := &rotatingTransport{cert: cert, build: build}
	t.current.Store(build(*cert.current.Load()))
	return t
}

// RoundTrip is http.RoundTripper.
func (t *rotatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.current.Load().RoundTrip(req)
}

// reload loads the certificate again, and changes transport when it changed.
func (t *rotatingTransport) reload() error {
	changed, err := t.cert.reload()
	if err != nil || !changed {
		return err
	}
	old := t.current.Swap(t.build(*t.cert.current.Load()))
	old.CloseIdleConnections()
	return nil
}
