package server

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubestellar/kubestellar/pkg/pki"
)

// Names of the identities the server's certificates carry.
const (
	// AdminUser is the user of admin.kubeconfig, a member of system:masters in every space.
	AdminUser = "kubestellar-admin"
	// FrontProxyUser is the front proxy's identity towards the spaces' API servers.
	FrontProxyUser = "kubestellar-front-proxy"
	// ControllerManagerUser is the identity of every space's kube-controller-manager.
	ControllerManagerUser = "system:kube-controller-manager"
)

// servingCertName names the default serving certificate in issued/.
const servingCertName = "kubestellar-serving"

// PKI is the server's certificate layout under <root-dir>/pki. It follows easy-rsa's layout
// (ca.crt, issued/NAME.crt, private/NAME.key) so that kubestellar-ensure-kcp-server-creds,
// run in the root directory, issues extra serving certificates from the same CA; the server
// serves every certificate in issued/ by SNI without a restart.
type PKI struct {
	Dir string

	CA         *pki.KeyPair
	FrontProxy *pki.KeyPair // client certificate for request-header authentication
	// FrontProxyCA issues FrontProxy; replicas accept asserted identities from its holders.
	FrontProxyCA *pki.KeyPair
	Admin        *pki.KeyPair

	// validity is how long the certificates issued here are valid.
	validity time.Duration
	// cas and leaves are every CA and every certificate issued here, the leaves being kept
	// renewed by the certRenewer.
	cas    []namedCA
	leaves []*leaf
}

// namedCA is a certificate authority with the name its metrics carry.
type namedCA struct {
	name string
	pair *pki.KeyPair
	file string
}

// leaf is a certificate the server issues and renews: what it is, who signs it, where it is.
type leaf struct {
	// name identifies it in logs and metrics.
	name              string
	ca                *pki.KeyPair
	certFile, keyFile string
	spec              pki.CertSpec
	// current is the certificate last seen in the files; after start only the renewer
	// touches it.
	current *x509.Certificate
}

// Paths of the files in the layout.
func (p *PKI) caCert() string                { return filepath.Join(p.Dir, "ca.crt") }
func (p *PKI) caKey() string                 { return filepath.Join(p.Dir, "private", "ca.key") }
func (p *PKI) issued(name string) string     { return filepath.Join(p.Dir, "issued", name+".crt") }
func (p *PKI) private(name string) string    { return filepath.Join(p.Dir, "private", name+".key") }
func (p *PKI) internal(name string) string   { return filepath.Join(p.Dir, "internal", name) }
func (p *PKI) frontProxyCACert() string      { return p.internal("front-proxy-ca.crt") }
func (p *PKI) frontProxyClientCert() string  { return p.internal("front-proxy-client.crt") }
func (p *PKI) frontProxyClientKey() string   { return p.internal("front-proxy-client.key") }
func (p *PKI) loopbackServingCert() string   { return p.internal("loopback-serving.crt") }
func (p *PKI) loopbackServingKey() string    { return p.internal("loopback-serving.key") }
func (p *PKI) controllerManagerCert() string { return p.internal("kube-controller-manager.crt") }
func (p *PKI) controllerManagerKey() string  { return p.internal("kube-controller-manager.key") }
func (p *PKI) etcdCACert() string            { return p.internal("etcd-ca.crt") }
func (p *PKI) etcdServerCert() string        { return p.internal("etcd-server.crt") }
func (p *PKI) etcdServerKey() string         { return p.internal("etcd-server.key") }
func (p *PKI) etcdClientCert() string        { return p.internal("etcd-client.crt") }
func (p *PKI) etcdClientKey() string         { return p.internal("etcd-client.key") }
func (p *PKI) adminCert() string             { return filepath.Join(p.Dir, "clients", "admin.crt") }
func (p *PKI) adminKey() string              { return filepath.Join(p.Dir, "clients", "admin.key") }
func (p *PKI) webhookServingCert() string    { return p.internal("webhook-serving.crt") }
func (p *PKI) webhookServingKey() string     { return p.internal("webhook-serving.key") }
func (p *PKI) componentCert(component string) string {
	return filepath.Join(p.Dir, "clients", component+".crt")
}
func (p *PKI) componentKey(component string) string {
	return filepath.Join(p.Dir, "clients", component+".key")
}

// adminTLS is the TLS client configuration of the server's own clients, as the administrator.
// The certificate is read from its files, so that client-go follows its renewal.
func (p *PKI) adminTLS() rest.TLSClientConfig {
	return rest.TLSClientConfig{CAData: p.CA.CertPEM, CertFile: p.adminCert(), KeyFile: p.adminKey()}
}

// ensureCA loads or makes a CA and records it.
func (p *PKI) ensureCA(name, certFile, keyFile, commonName string) (*pki.KeyPair, error) {
	ca, err := pki.EnsureCA(certFile, keyFile, commonName)
	if err != nil {
		return nil, err
	}
	p.cas = append(p.cas, namedCA{name: name, pair: ca, file: certFile})
	return ca, nil
}

// ensureLeaf loads, issuing it when missing, no longer covering spec or due for renewal, a
// certificate, and records it for renewal.
func (p *PKI) ensureLeaf(name string, ca *pki.KeyPair, certFile, keyFile string, spec pki.CertSpec) (*pki.KeyPair, error) {
	l := &leaf{name: name, ca: ca, certFile: certFile, keyFile: keyFile, spec: spec}
	pair, _, err := ca.EnsureIssuedFor(certFile, keyFile, spec, p.validity, time.Now())
	if err != nil {
		return nil, err
	}
	l.current = pair.Cert
	p.leaves = append(p.leaves, l)
	return pair, nil
}

// ensurePKI loads the server's PKI, making whatever is missing. The CAs are made once and
// never replaced; certificates are issued valid for validity, and issued anew when they no
// longer cover what is asked or are due for renewal (see pki.Due).
func ensurePKI(dir string, servingNames []string, validity time.Duration) (*PKI, error) {
	p := &PKI{Dir: dir, validity: validity}
	var err error
	if p.CA, err = p.ensureCA("ca", p.caCert(), p.caKey(), "kubestellar-ca"); err != nil {
		return nil, fmt.Errorf("server CA: %w", err)
	}
	dns, ips := splitNames(servingNames)
	if _, err := p.ensureLeaf("serving", p.CA, p.issued(servingCertName), p.private(servingCertName),
		pki.CertSpec{CommonName: "kubestellar", DNSNames: dns, IPs: ips, Usage: pki.ServerUsage}); err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	if _, err := p.ensureLeaf("space-apiserver-serving", p.CA, p.loopbackServingCert(), p.loopbackServingKey(), pki.CertSpec{
		CommonName: "kubestellar-space-apiserver", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.ServerUsage,
	}); err != nil {
		return nil, fmt.Errorf("space API server serving certificate: %w", err)
	}
	if p.Admin, err = p.ensureLeaf(adminLeaf, p.CA, p.adminCert(), p.adminKey(),
		pki.CertSpec{CommonName: AdminUser, Organization: []string{"system:masters"}, Usage: pki.ClientUsage}); err != nil {
		return nil, fmt.Errorf("admin client certificate: %w", err)
	}
	if _, err := p.ensureLeaf("kube-controller-manager", p.CA, p.controllerManagerCert(), p.controllerManagerKey(),
		pki.CertSpec{CommonName: ControllerManagerUser, Usage: pki.ClientUsage}); err != nil {
		return nil, fmt.Errorf("controller manager client certificate: %w", err)
	}

	// The front proxy's request-header identity and etcd have CAs of their own, so that no
	// certificate handed to users can assert identities or reach the storage.
	if p.FrontProxyCA, err = p.ensureCA("front-proxy-ca", p.frontProxyCACert(), p.internal("front-proxy-ca.key"), "kubestellar-front-proxy-ca"); err != nil {
		return nil, fmt.Errorf("front proxy CA: %w", err)
	}
	if p.FrontProxy, err = p.ensureLeaf("front-proxy-client", p.FrontProxyCA, p.frontProxyClientCert(), p.frontProxyClientKey(),
		pki.CertSpec{CommonName: FrontProxyUser, Usage: pki.ClientUsage}); err != nil {
		return nil, fmt.Errorf("front proxy client certificate: %w", err)
	}
	etcdCA, err := p.ensureCA("etcd-ca", p.etcdCACert(), p.internal("etcd-ca.key"), "kubestellar-etcd-ca")
	if err != nil {
		return nil, fmt.Errorf("etcd CA: %w", err)
	}
	if _, err := p.ensureLeaf("etcd-server", etcdCA, p.etcdServerCert(), p.etcdServerKey(), pki.CertSpec{
		CommonName: "kubestellar-etcd", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.ServerUsage,
	}); err != nil {
		return nil, fmt.Errorf("etcd serving certificate: %w", err)
	}
	if _, err := p.ensureLeaf("etcd-client", etcdCA, p.etcdClientCert(), p.etcdClientKey(),
		pki.CertSpec{CommonName: "kubestellar-etcd-client", Usage: pki.ClientUsage}); err != nil {
		return nil, fmt.Errorf("etcd client certificate: %w", err)
	}
	return p, nil
}

// internalNames are the names the default serving certificate always covers.
func internalNames(bindAddress string) []string {
	names := []string{"localhost", "127.0.0.1", "kubestellar"}
	if host, err := os.Hostname(); err == nil && host != "" {
		names = append(names, host)
	}
	if ip := net.ParseIP(bindAddress); ip != nil && !ip.IsUnspecified() {
		names = append(names, ip.String())
	}
	return names
}

func splitNames(names []string) (dns []string, ips []net.IP) {
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
		} else if !slices.Contains(dns, n) {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

// ensureWebhookServing loads, issuing it from the server CA when missing, the serving
// certificate of the admission webhook server that the spaces' API servers call on loopback.
func ensureWebhookServing(p *PKI) (*pki.KeyPair, error) {
	pair, err := p.ensureLeaf("webhook-serving", p.CA, p.webhookServingCert(), p.webhookServingKey(), pki.CertSpec{
		CommonName: "kubestellar-webhook", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.ServerUsage,
	})
	if err != nil {
		return nil, fmt.Errorf("admission webhook serving certificate: %w", err)
	}
	return pair, nil
}

// DomainCreds are the files of a serving certificate for one domain.
type DomainCreds struct {
	CAFile, CertFile, KeyFile string
}

// EnsureDomainCreds makes, or re-uses when present, an easy-rsa style PKI under dir (normally
// ./pki) holding a CA and a serving certificate whose only subject alternative name is
// DNS:domain, at issued/kcp-DNS-<domain>.crt and private/kcp-DNS-<domain>.key. Run with dir
// <root-dir>/pki, it re-uses the space server's own CA, and the running server starts serving
// the new certificate for that name.
func EnsureDomainCreds(dir, domain string) (DomainCreds, error) {
	if domain == "" || net.ParseIP(domain) != nil || strings.ContainsAny(domain, "/:, ") {
		return DomainCreds{}, fmt.Errorf("%q is not a DNS domain name", domain)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return DomainCreds{}, err
	}
	p := &PKI{Dir: abs}
	name := "kcp-DNS-" + domain
	creds := DomainCreds{CAFile: p.caCert(), CertFile: p.issued(name), KeyFile: p.private(name)}
	ca, err := pki.EnsureCA(p.caCert(), p.caKey(), "kubestellar-ca")
	if err != nil {
		return creds, fmt.Errorf("CA: %w", err)
	}
	spec := pki.CertSpec{CommonName: domain, DNSNames: []string{domain}, Usage: pki.ServerUsage}
	if _, err := ca.EnsureIssued(creds.CertFile, creds.KeyFile, spec); err != nil {
		return creds, fmt.Errorf("certificate for %s: %w", domain, err)
	}
	return creds, nil
}

// Components that have a client identity of their own. Each is a user named
// ComponentUser(component) in the group ControllersGroup, never in system:masters, and each
// space's RBAC grants it what that component uses there (see rbac.go).
const (
	// ComponentMailboxController is the mailbox controller.
	ComponentMailboxController = "mailbox-controller"
	// ComponentWhereResolver is the where-resolver.
	ComponentWhereResolver = "where-resolver"
	// ComponentPlacementTranslator is the placement translator.
	ComponentPlacementTranslator = "placement-translator"
	// ComponentInit is the init step (kubestellar init, init-in-cluster), which ensures
	// spaces and installs the KubeStellar API into them.
	ComponentInit = "init"
)

// ControllersGroup is the group of every component identity.
const ControllersGroup = "kubestellar:controllers"

// IdentitiesDir is the folder, in the root directory, holding one folder per component with
// that component's kubeconfig.
const IdentitiesDir = "identities"

// Components lists the components that have a client identity of their own.
func Components() []string {
	return []string{ComponentMailboxController, ComponentWhereResolver, ComponentPlacementTranslator, ComponentInit}
}

// ComponentUser is the user name of a component's identity.
func ComponentUser(component string) string { return "kubestellar:" + component }

// IdentityKubeconfig is where, under the root directory rootDir, the space server writes the
// kubeconfig of a component's identity.
func IdentityKubeconfig(rootDir, component string) string {
	return filepath.Join(rootDir, IdentitiesDir, component, "kubeconfig")
}

// ensureIdentities loads, making whatever is missing, one client certificate per component,
// issued by the server CA. A root directory made before components had identities gets them
// here, on its next start.
func ensureIdentities(p *PKI) (map[string]*pki.KeyPair, error) {
	out := map[string]*pki.KeyPair{}
	for _, component := range Components() {
		pair, err := p.ensureLeaf(identityLeafPrefix+component, p.CA, p.componentCert(component), p.componentKey(component),
			pki.CertSpec{CommonName: ComponentUser(component), Organization: []string{ControllersGroup}, Usage: pki.ClientUsage})
		if err != nil {
			return nil, fmt.Errorf("client certificate of %s: %w", component, err)
		}
		out[component] = pair
	}
	return out, nil
}
