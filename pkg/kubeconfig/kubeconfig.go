// Package kubeconfig builds the kubeconfig files KubeStellar hands out and rewrites them for
// another address (a different domain, port and CA), always with TLS verified.
package kubeconfig

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubestellar/kubestellar/pkg/spaces"
)

const (
	// RootContext addresses the root space.
	RootContext = "root"
	// BaseContext addresses the space server's base URL, from which /clusters/<path> URLs are
	// made; it serves no API of its own.
	BaseContext = "base"
)

// Credentials are a client's credentials and the CA that verifies the server. Certificates
// and keys are given either as data or as file names.
type Credentials struct {
	CA                []byte
	CertData, KeyData []byte
	CertFile, KeyFile string
	Token             string
}

func (c Credentials) authInfo() *clientcmdapi.AuthInfo {
	return &clientcmdapi.AuthInfo{
		ClientCertificateData: c.CertData, ClientKeyData: c.KeyData,
		ClientCertificate: c.CertFile, ClientKey: c.KeyFile,
		Token: c.Token,
	}
}

// ForServer returns a kubeconfig with one context, named name, for server and user.
func ForServer(name, server, user string, creds Credentials) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: creds.CA}
	cfg.AuthInfos[user] = creds.authInfo()
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user}
	cfg.CurrentContext = name
	return cfg
}

// ForSpaceServer returns a kubeconfig with contexts "root" (the root space) and "base" (the
// server's base URL), current context "root", for the given user.
func ForSpaceServer(baseURL, user string, creds Credentials) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	base := strings.TrimSuffix(baseURL, "/")
	cfg.Clusters[RootContext] = &clientcmdapi.Cluster{Server: spaces.URL(base, spaces.RootPath), CertificateAuthorityData: creds.CA}
	cfg.Clusters[BaseContext] = &clientcmdapi.Cluster{Server: base, CertificateAuthorityData: creds.CA}
	cfg.AuthInfos[user] = creds.authInfo()
	cfg.Contexts[RootContext] = &clientcmdapi.Context{Cluster: RootContext, AuthInfo: user}
	cfg.Contexts[BaseContext] = &clientcmdapi.Context{Cluster: BaseContext, AuthInfo: user}
	cfg.CurrentContext = RootContext
	return cfg
}

// SwitchDomain rewrites, in place, every cluster whose server URL has the same scheme, host
// and port as the cluster of contextName, to use domain:port instead (the path is kept), and
// to trust caPEM.
func SwitchDomain(cfg *clientcmdapi.Config, contextName, domain, port string, caPEM []byte) error {
	if domain == "" {
		return fmt.Errorf("the domain must not be empty")
	}
	// Anything else would make server URLs that no client can parse.
	if net.ParseIP(domain) == nil && len(validation.IsDNS1123Subdomain(strings.ToLower(domain))) > 0 {
		return fmt.Errorf("domain %q is not a DNS name or an IP address (give the port separately)", domain)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n < 1 {
		return fmt.Errorf("port %q is not a valid port number: give a number from 1 to 65535", port)
	}
	// A nil entry, which only a config built in code can hold, counts as missing.
	kctx := cfg.Contexts[contextName]
	if kctx == nil {
		return fmt.Errorf("context %q not found; the kubeconfig has %s", contextName, names(cfg.Contexts))
	}
	cluster := cfg.Clusters[kctx.Cluster]
	if cluster == nil {
		return fmt.Errorf("context %q refers to cluster %q, which is not in the kubeconfig", contextName, kctx.Cluster)
	}
	origin, err := originOf(cluster.Server)
	if err != nil {
		return fmt.Errorf("cluster %q: %w", kctx.Cluster, err)
	}
	for name, c := range cfg.Clusters {
		if c == nil {
			continue
		}
		u, err := url.Parse(c.Server)
		if err != nil {
			continue
		}
		if o, err := originOf(c.Server); err != nil || o != origin {
			continue
		}
		u.Host = net.JoinHostPort(domain, port)
		c.Server = u.String()
		c.CertificateAuthority = ""
		c.CertificateAuthorityData = caPEM
		c.TLSServerName = ""
		c.InsecureSkipTLSVerify = false
		cfg.Clusters[name] = c
	}
	return nil
}

// originOf returns scheme://host:port of a server URL, with the scheme's default port filled in.
func originOf(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("server %q is not an absolute URL", server)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

func names[V any](m map[string]V) string {
	list := make([]string, 0, len(m))
	for k := range m {
		list = append(list, fmt.Sprintf("%q", k))
	}
	slices.Sort(list)
	if len(list) == 0 {
		return "no contexts"
	}
	return strings.Join(list, ", ")
}
