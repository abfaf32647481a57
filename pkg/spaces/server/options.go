// Package server is the KubeStellar space server: one process that runs an embedded etcd (or
// uses an external one), one upstream kube-apiserver and kube-controller-manager per space,
// and a TLS front proxy that serves every space at /clusters/<path> on one port. Spaces are
// declared by Space objects in the root space.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kubestellar/kubestellar/pkg/pki"
)

// Options configure the space server.
type Options struct {
	// RootDir holds all state: PKI, etcd data, the spaces' files, admin.kubeconfig.
	RootDir string
	// BindAddress and SecurePort are where the front proxy listens.
	BindAddress string
	SecurePort  int
	// ExternalHostnames are extra names (or IPs) the default serving certificate covers.
	ExternalHostnames []string
	// AdvertiseAddress is the host (DNS name or IP) that admin.kubeconfig and the spaces'
	// status URLs give clients; the default serving certificate covers it. When empty: the
	// bind address if it is a specific one, else localhost.
	AdvertiseAddress string
	// SNICertKeys are "certfile,keyfile" pairs served to clients asking for their names.
	SNICertKeys []string
	// EtcdServers, when set, replace the embedded etcd; the Etcd*File fields secure them.
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// Replica names this server among several space servers that share one etcd and one PKI;
	// it serves the Spaces labelled space.kubestellar.io/replica=<Replica>. Empty for a lone
	// server.
	Replica string
	// RootReplica is the replica that serves the root space, and every Space without the
	// label; the others reach the root space through it.
	RootReplica string
	// Peers are the front proxy URLs (https://host:port) of the other replicas, by name:
	// requests for their spaces are passed on to them, so that any replica answers for all.
	Peers map[string]string
	// KubeAPIServer and KubeControllerManager are the upstream binaries; found beside this
	// program or on PATH when empty.
	KubeAPIServer, KubeControllerManager string
	// SpaceVerbosity is the -v level of the spaces' upstream programs.
	SpaceVerbosity int
	// CertificateValidity is how long the certificates the server issues are valid (its CAs
	// are valid for pki.CAValidity and never replaced); each is renewed once two thirds of it
	// have passed.
	CertificateValidity time.Duration
	// MetricsBindAddress, when set, is where /metrics is served over plain HTTP, without
	// authentication; "" (the default) serves none.
	MetricsBindAddress string

	// beforeResume, when set, runs before the spaces declared earlier are resumed; tests
	// use it to hold the server in that state.
	beforeResume func(ctx context.Context)
}

// MinCertificateValidity is the shortest --certificate-validity: renewal, a third of it before
// expiry, must leave the users of a certificate time to load the new one.
const MinCertificateValidity = 30 * time.Second

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{RootDir: ".kubestellar", BindAddress: "0.0.0.0", SecurePort: 6443, CertificateValidity: pki.LeafValidity}
}

// AddFlags registers the options as flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Replica, "replica", o.Replica,
		"Name of this server among several space servers that share one etcd and one PKI; it serves the Spaces labelled space.kubestellar.io/replica=<name>")
	fs.StringVar(&o.RootReplica, "root-replica", o.RootReplica,
		"The replica that serves the root space and every Space without the replica label (default: this one)")
	fs.StringToStringVar(&o.Peers, "peer", o.Peers,
		"Another replica's front proxy, as name=https://host:port; repeatable. Requests for its spaces are passed on to it")
	fs.StringVar(&o.RootDir, "root-dir", o.RootDir, "Directory holding all of the server's state (certificates, etcd data, spaces, admin.kubeconfig)")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "IP address to listen on")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "Port to serve HTTPS on")
	fs.StringArrayVar(&o.ExternalHostnames, "external-hostname", o.ExternalHostnames,
		"Extra DNS name or IP address the serving certificate covers; repeatable")
	fs.StringVar(&o.AdvertiseAddress, "advertise-address", o.AdvertiseAddress,
		"DNS name or IP address written into admin.kubeconfig and the spaces' status URLs, and covered by the serving certificate "+
			"(default: --bind-address when it is a specific address, else localhost)")
	fs.StringArrayVar(&o.SNICertKeys, "tls-sni-cert-key", o.SNICertKeys,
		"A certificate and key file pair, 'cert,key', served to clients that ask (by SNI) for a name it covers; repeatable")
	fs.StringSliceVar(&o.EtcdServers, "etcd-servers", o.EtcdServers,
		"Client URLs of an external etcd cluster to use instead of the embedded etcd")
	fs.StringVar(&o.EtcdCAFile, "etcd-cafile", o.EtcdCAFile, "CA that verifies the external etcd servers")
	fs.StringVar(&o.EtcdCertFile, "etcd-certfile", o.EtcdCertFile, "Client certificate for the external etcd servers")
	fs.StringVar(&o.EtcdKeyFile, "etcd-keyfile", o.EtcdKeyFile, "Client key for the external etcd servers")
	fs.StringVar(&o.KubeAPIServer, "kube-apiserver", o.KubeAPIServer,
		"Path of the kube-apiserver binary (default: beside this program, else on PATH)")
	fs.StringVar(&o.KubeControllerManager, "kube-controller-manager", o.KubeControllerManager,
		"Path of the kube-controller-manager binary (default: beside this program, else on PATH)")
	fs.IntVar(&o.SpaceVerbosity, "space-v", o.SpaceVerbosity, "Log verbosity of the spaces' kube-apiserver and kube-controller-manager")
	fs.DurationVar(&o.CertificateValidity, "certificate-validity", o.CertificateValidity,
		"How long the serving and client certificates the server issues are valid (not its CAs, which are never replaced); "+
			"each is renewed, without a restart, once two thirds of it have passed. Short values are for tests: "+
			"below 15m, clients that reload certificates every 5 minutes (client-go) can be refused for a moment")
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress,
		"Address ([host]:port) serving /metrics over plain HTTP without authentication, so keep it on 127.0.0.1; empty for none")
}

// Complete fills in what the defaults leave open: absolute paths and the binaries.
func (o *Options) Complete() error {
	abs, err := filepath.Abs(o.RootDir)
	if err != nil {
		return fmt.Errorf("--root-dir: %w", err)
	}
	o.RootDir = abs
	if o.RootReplica == "" {
		o.RootReplica = o.Replica
	}
	if o.KubeAPIServer, err = findBinary("kube-apiserver", o.KubeAPIServer); err != nil {
		return err
	}
	if o.KubeControllerManager, err = findBinary("kube-controller-manager", o.KubeControllerManager); err != nil {
		return err
	}
	return nil
}

// Validate checks the options and names the flag of the first problem found.
func (o *Options) Validate() error {
	var errs []error
	if net.ParseIP(o.BindAddress) == nil {
		errs = append(errs, fmt.Errorf("--bind-address %q is not an IP address", o.BindAddress))
	}
	if o.SecurePort < 1 || o.SecurePort > 65535 {
		errs = append(errs, fmt.Errorf("--secure-port %d is not between 1 and 65535", o.SecurePort))
	}
	for _, h := range o.ExternalHostnames {
		if h == "" || strings.ContainsAny(h, "/: ,") {
			errs = append(errs, fmt.Errorf("--external-hostname %q must be a bare DNS name or IP address, without scheme or port", h))
		}
	}
	if h := o.AdvertiseAddress; h != "" && strings.ContainsAny(h, "/: ,") {
		errs = append(errs, fmt.Errorf("--advertise-address %q must be a bare DNS name or IP address, without scheme or port", h))
	}
	for _, pair := range o.SNICertKeys {
		if _, err := parseCertPair(pair); err != nil {
			errs = append(errs, err)
		}
	}
	if len(o.EtcdServers) == 0 && (o.EtcdCAFile != "" || o.EtcdCertFile != "" || o.EtcdKeyFile != "") {
		errs = append(errs, errors.New("--etcd-cafile, --etcd-certfile and --etcd-keyfile apply only with --etcd-servers"))
	}
	for name, peer := range o.Peers {
		u, err := url.Parse(peer)
		switch {
		case name == "" || name == o.Replica:
			errs = append(errs, fmt.Errorf("--peer %s=%s: name another replica than this one (--replica %q)", name, peer, o.Replica))
		case err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "":
			errs = append(errs, fmt.Errorf("--peer %s=%s: give the replica's front proxy as https://host:port", name, peer))
		}
	}
	if o.RootReplica != "" && o.RootReplica != o.Replica && o.Peers[o.RootReplica] == "" {
		errs = append(errs, fmt.Errorf("--root-replica %s is another replica: give its address with --peer %s=https://host:port", o.RootReplica, o.RootReplica))
	}
	if o.CertificateValidity < MinCertificateValidity {
		errs = append(errs, fmt.Errorf("--certificate-validity %s is shorter than %s", o.CertificateValidity, MinCertificateValidity))
	}
	if o.MetricsBindAddress != "" {
		if _, _, err := net.SplitHostPort(o.MetricsBindAddress); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-bind-address %q: give [host]:port: %w", o.MetricsBindAddress, err))
		}
	}
	if (o.EtcdCertFile == "") != (o.EtcdKeyFile == "") {
		errs = append(errs, errors.New("--etcd-certfile and --etcd-keyfile must be given together"))
	}
	return errors.Join(errs...)
}

func parseCertPair(s string) (certPair, error) {
	cert, key, ok := strings.Cut(s, ",")
	if !ok || cert == "" || key == "" || strings.Contains(key, ",") {
		return certPair{}, fmt.Errorf("--tls-sni-cert-key %q must be two file names separated by a comma: cert,key", s)
	}
	for _, f := range []string{cert, key} {
		if _, err := os.Stat(f); err != nil {
			return certPair{}, fmt.Errorf("--tls-sni-cert-key %q: %w", s, err)
		}
	}
	return certPair{Cert: cert, Key: key}, nil
}

// findBinary returns flagValue when given, else name found beside this program, else on PATH.
func findBinary(name, flagValue string) (string, error) {
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", fmt.Errorf("--%s: %w", name, err)
		}
		return flagValue, nil
	}
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(beside); err == nil {
			return beside, nil
		}
	}
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	return "", fmt.Errorf("%s was found neither beside this program nor on PATH; build it with `make build` or give --%s", name, name)
}
