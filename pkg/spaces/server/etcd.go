package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"

	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
)

// storage is the etcd every space keeps its data in, each under its own key prefix.
type storage struct {
	// Servers are the client URLs the spaces' API servers use.
	Servers []string
	// CAFile, CertFile and KeyFile secure the API servers' connections.
	CAFile, CertFile, KeyFile string

	client *clientv3.Client
	stop   func()
}

// etcdPrefix is where the space with the given ID keeps its data.
func etcdPrefix(id string) string { return "/kubestellar/spaces/" + id }

// etcdStartAttempts bounds the starts of the embedded etcd when a port it was given is taken
// before it binds it.
const etcdStartAttempts = 5

// startEmbeddedEtcd runs etcd inside this process, with its data under dir, listening on
// loopback only and requiring client certificates signed by the etcd CA.
func startEmbeddedEtcd(ctx context.Context, dir string, p *PKI) (*storage, error) {
	return startEmbeddedEtcdOn(ctx, dir, p, func() (int, error) { return kubeapiserver.FreePort("127.0.0.1") })
}

// startEmbeddedEtcdOn is startEmbeddedEtcd on ports from freePort. A port free when asked
// can be taken by another process before etcd binds it (and etcd takes no listener made
// earlier), so a start that finds its port in use is made again on new ports.
func startEmbeddedEtcdOn(ctx context.Context, dir string, p *PKI, freePort func() (int, error)) (*storage, error) {
	var err error
	for range etcdStartAttempts {
		var st *storage
		if st, err = startEmbeddedEtcdOnce(ctx, dir, p, freePort); err == nil {
			return st, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}
	return nil, err
}

func startEmbeddedEtcdOnce(ctx context.Context, dir string, p *PKI, freePort func() (int, error)) (*storage, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	clientURL := url.URL{Scheme: "https", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peerURL := url.URL{Scheme: "https", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating etcd directory: %w", err)
	}

	cfg := embed.NewConfig()
	cfg.Name = "kubestellar"
	cfg.Dir = filepath.Join(dir, "data")
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	tlsInfo := transport.TLSInfo{
		CertFile: p.etcdServerCert(), KeyFile: p.etcdServerKey(),
		TrustedCAFile: p.etcdCACert(), ClientCertAuth: true,
	}
	cfg.ClientTLSInfo = tlsInfo
	cfg.PeerTLSInfo = tlsInfo
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(time.Minute):
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready within a minute (see %s)", cfg.LogOutputs[0])
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	client := v3client.New(e.Server)
	return &storage{
		Servers: []string{clientURL.String()},
		CAFile:  p.etcdCACert(), CertFile: p.etcdClientCert(), KeyFile: p.etcdClientKey(),
		client: client,
		stop: func() {
			client.Close()
			e.Close()
		},
	}, nil
}

// connectExternalEtcd uses an etcd cluster run by someone else.
func connectExternalEtcd(ctx context.Context, servers []string, caFile, certFile, keyFile string) (*storage, error) {
	var tlsConfig *tls.Config
	if caFile != "" || certFile != "" {
		info := transport.TLSInfo{CertFile: certFile, KeyFile: keyFile, TrustedCAFile: caFile}
		c, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd client TLS: %w", err)
		}
		tlsConfig = c
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: servers, TLS: tlsConfig, DialTimeout: 10 * time.Second, Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd %v: %w", servers, err)
	}
	statusCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// A linearizable read answers once a quorum of the members does, whichever of them are
	// down: asking one named member would refuse a healthy cluster that lost that one.
	if _, err := client.Get(statusCtx, etcdPrefix("")); err != nil {
		client.Close()
		return nil, fmt.Errorf("etcd %v does not answer: %w", servers, err)
	}
	return &storage{
		Servers: servers, CAFile: caFile, CertFile: certFile, KeyFile: keyFile,
		client: client,
		stop:   func() { client.Close() },
	}, nil
}

// deleteSpaceData removes every key of the space with the given ID.
func (s *storage) deleteSpaceData(ctx context.Context, id string) error {
	if _, err := s.client.Delete(ctx, etcdPrefix(id)+"/", clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("deleting the data of space %s: %w", id, err)
	}
	return nil
}
