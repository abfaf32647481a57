package framework

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/pki"
	"github.com/kubestellar/kubestellar/pkg/process"
)

// EtcdCluster is a real etcd cluster of several member processes on this machine. Clients
// reach it over TLS and must present a certificate its CA signed, as with a production
// cluster; its members talk to each other in the clear, on loopback.
type EtcdCluster struct {
	// ClientURLs are the members' client URLs, in member order.
	ClientURLs []string
	// CAFile verifies the members; CertFile and KeyFile are a client certificate they accept.
	CAFile, CertFile, KeyFile string

	t       testing.TB
	dir     string
	specs   []process.Spec
	members []*process.Process
}

// StartEtcdCluster starts an etcd cluster of n members with their data and certificates
// under dir, stopped when the test ends; each member also gets the flags in extra.
func StartEtcdCluster(t testing.TB, dir string, n int, extra ...string) *EtcdCluster {
	t.Helper()
	c := &EtcdCluster{t: t, dir: dir, members: make([]*process.Process, n)}
	c.writePKI()
	bin := Binary(t, "etcd")
	var peers []string
	peerURLs := make([]string, n)
	for i := range n {
		clientPort, err := kubeapiserver.FreePort("127.0.0.1")
		must(t, err)
		peerPort, err := kubeapiserver.FreePort("127.0.0.1")
		must(t, err)
		c.ClientURLs = append(c.ClientURLs, "https://127.0.0.1:"+strconv.Itoa(clientPort))
		peerURLs[i] = "http://127.0.0.1:" + strconv.Itoa(peerPort)
		peers = append(peers, fmt.Sprintf("member%d=%s", i, peerURLs[i]))
	}
	for i := range n {
		name := fmt.Sprintf("member%d", i)
		c.specs = append(c.specs, process.Spec{
			Name: "etcd " + name,
			Path: bin,
			Args: append([]string{
				"--name=" + name,
				"--data-dir=" + filepath.Join(dir, name),
				"--listen-client-urls=" + c.ClientURLs[i],
				"--advertise-client-urls=" + c.ClientURLs[i],
				"--listen-peer-urls=" + peerURLs[i],
				"--initial-advertise-peer-urls=" + peerURLs[i],
				"--initial-cluster=" + strings.Join(peers, ","),
				"--initial-cluster-state=new",
				"--initial-cluster-token=kubestellar-test",
				"--cert-file=" + filepath.Join(dir, "pki", "server.crt"),
				"--key-file=" + filepath.Join(dir, "pki", "server.key"),
				"--trusted-ca-file=" + c.CAFile,
				"--client-cert-auth",
				// Test data need not survive a power cut.
				"--unsafe-no-fsync",
				"--log-level=warn",
			}, extra...),
			LogFile: filepath.Join(dir, name+".log"),
		})
	}
	// The members wait for each other: all start before any is asked whether it is healthy.
	for i := range n {
		c.StartMember(i)
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			if m != nil {
				m.Stop(10 * time.Second)
			}
		}
	})
	c.WaitHealthy()
	return c
}

func (c *EtcdCluster) writePKI() {
	dir := filepath.Join(c.dir, "pki")
	ca, err := pki.NewCA("kubestellar-test-etcd-ca")
	must(c.t, err)
	c.CAFile = filepath.Join(dir, "ca.crt")
	must(c.t, ca.Write(c.CAFile, filepath.Join(dir, "ca.key")))
	serving, err := ca.Issue(pki.CertSpec{CommonName: "etcd", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.ServerUsage})
	must(c.t, err)
	must(c.t, serving.Write(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")))
	client, err := ca.Issue(pki.CertSpec{CommonName: "kubestellar", Usage: pki.ClientUsage})
	must(c.t, err)
	c.CertFile, c.KeyFile = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	must(c.t, client.Write(c.CertFile, c.KeyFile))
}

// StartMember starts member i again, with the data it had.
func (c *EtcdCluster) StartMember(i int) {
	c.t.Helper()
	proc, err := process.Start(c.specs[i])
	must(c.t, err)
	c.members[i] = proc
}

// StopMember kills member i, as a crash of its machine would.
func (c *EtcdCluster) StopMember(i int) {
	if c.members[i] == nil {
		return
	}
	c.members[i].Signal(syscall.SIGKILL)
	<-c.members[i].Done()
	c.members[i] = nil
}

// WaitHealthy waits until every running member says it is healthy: a member is healthy once
// it belongs to a cluster with a leader.
func (c *EtcdCluster) WaitHealthy() {
	c.t.Helper()
	tlsConfig := c.tlsConfig()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	for i, url := range c.ClientURLs {
		if c.members[i] == nil {
			continue
		}
		err := wait.PollUntilContextTimeout(c.t.Context(), 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			if exited, err := c.members[i].Exited(); exited {
				return false, fmt.Errorf("member%d exited: %w", i, err)
			}
			return kubeapiserver.Probe(ctx, client, url+"/health") == nil, nil
		})
		if err != nil {
			c.t.Fatalf("etcd member%d is not healthy: %v\n%s", i, err, logTail(c.specs[i].LogFile, 20))
		}
	}
}

func (c *EtcdCluster) tlsConfig() *tls.Config {
	info := transport.TLSInfo{TrustedCAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}
	cfg, err := info.ClientConfig()
	must(c.t, err)
	return cfg
}

// Client is an etcd client of the given members (all when none is given), closed when the
// test ends.
func (c *EtcdCluster) Client(members ...int) *clientv3.Client {
	c.t.Helper()
	endpoints := c.ClientURLs
	if len(members) > 0 {
		endpoints = nil
		for _, i := range members {
			endpoints = append(endpoints, c.ClientURLs[i])
		}
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: c.tlsConfig(), DialTimeout: 10 * time.Second})
	must(c.t, err)
	c.t.Cleanup(func() { _ = client.Close() })
	return client
}
