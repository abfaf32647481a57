// Package shutdown checks, with every KubeStellar server binary running as a real process,
// that SIGTERM makes it exit within seconds whatever state its servers are in.
package shutdown

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	edgev2alpha1 "github.com/kubestellar/kubestellar/pkg/apis/edge/v2alpha1"
	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/process"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
	"github.com/kubestellar/kubestellar/pkg/syncer"
	"github.com/kubestellar/kubestellar/pkg/wrapper"
	"github.com/kubestellar/kubestellar/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }

// exitBound is how soon after SIGTERM a binary must have exited.
const exitBound = 5 * time.Second

// patience is how long a binary that misses exitBound is given, to report how long it took.
const patience = 30 * time.Second

var controllers = []string{"mailbox-controller", "kubestellar-where-resolver", "placement-translator"}

func TestSIGTERM(t *testing.T) {
	bin := framework.BuildCommands(t, append([]string{"kubestellar-space-server", "kubestellar-syncer"}, controllers...)...)

	t.Run("whose space server is gone", func(t *testing.T) {
		srv := framework.StartSpaceServer(t)
		srv.CreateSpaceWithAPI("espw")
		var procs []named
		for _, name := range controllers {
			p, addr := startController(t, bin, name, srv.Kubeconfig)
			waitReady(t, name, addr, p)
			procs = append(procs, named{name, p})
		}
		procs = append(procs, named{"kubestellar-syncer", startWorkingSyncer(t, bin, srv)})

		srv.Stop()
		// Let every client find that its server is gone, and back off a few times.
		time.Sleep(10 * time.Second)
		checkExits(t, procs)
	})

	t.Run("whose server never answers", func(t *testing.T) {
		addr := blackhole(t)
		kc := kubeconfigFor(t, "https://"+addr, "")
		var procs []named
		for _, name := range controllers {
			p, _ := startController(t, bin, name, kc)
			procs = append(procs, named{name, p})
		}
		procs = append(procs, named{"kubestellar-syncer", framework.StartCommand(t, filepath.Join(bin, "kubestellar-syncer"),
			"--from-kubeconfig", kubeconfigFor(t, "https://"+addr, "mailbox"), "--to-kubeconfig", kc, "--sync-target-name", "st1")})
		dir := framework.TempDir(t)
		procs = append(procs, named{"kubestellar-space-server", framework.StartCommand(t, filepath.Join(bin, "kubestellar-space-server"),
			spaceServerArgs(t, dir, "--etcd-servers", "http://"+addr)...)})
		// Let every process get stuck on its first request.
		time.Sleep(5 * time.Second)
		for _, p := range procs {
			if exited, err := p.proc.Exited(); exited {
				t.Fatalf("%s: %v", p.name, err)
			}
		}
		checkExits(t, procs)
	})

	t.Run("space server whose etcd is gone", func(t *testing.T) {
		dir := framework.TempDir(t)
		etcdURL, etcd := framework.StartEtcdProcess(t, filepath.Join(dir, "etcd"))
		args := spaceServerArgs(t, dir, "--etcd-servers", etcdURL)
		p := framework.StartCommand(t, filepath.Join(bin, "kubestellar-space-server"), args...)
		framework.Eventually(t, 3*time.Minute, "the space server writes its kubeconfig", func() bool {
			if exited, err := p.Exited(); exited {
				t.Fatalf("kubestellar-space-server: %v", err)
			}
			_, err := os.Stat(filepath.Join(dir, "root", server.AdminKubeconfig))
			return err == nil
		})
		// A controller watches through the front proxy.
		mailboxes, addr := startController(t, bin, "mailbox-controller", filepath.Join(dir, "root", server.AdminKubeconfig))
		waitReady(t, "mailbox-controller", addr, mailboxes)
		etcd.Signal(syscall.SIGKILL)
		<-etcd.Done()
		time.Sleep(3 * time.Second)
		checkExits(t, []named{{"kubestellar-space-server", p}})
	})
}

type named struct {
	name string
	proc *process.Process
}

// checkExits sends SIGTERM to every process at once and checks that each has exited within
// exitBound.
func checkExits(t *testing.T, procs []named) {
	t.Helper()
	took := make([]time.Duration, len(procs))
	start := time.Now()
	for _, p := range procs {
		p.proc.Signal(syscall.SIGTERM)
	}
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() {
			select {
			case <-p.proc.Done():
				took[i] = time.Since(start)
			case <-time.After(patience):
				took[i] = -1
			}
		})
	}
	wg.Wait()
	for i, p := range procs {
		t.Run(p.name, func(t *testing.T) {
			if took[i] < 0 {
				t.Errorf("still running %s after SIGTERM", patience)
				return
			}
			t.Logf("exited %s after SIGTERM (%v)", took[i].Round(10*time.Millisecond), p.proc.Err())
			assert.LessOrEqual(t, took[i], exitBound, "exited within %s of SIGTERM", exitBound)
		})
	}
}

func startController(t *testing.T, bin, name, kc string) (*process.Process, string) {
	t.Helper()
	port, err := kubeapiserver.FreePort("127.0.0.1")
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := framework.StartCommand(t, filepath.Join(bin, name), "--root-kubeconfig", kc, "--base-kubeconfig", kc,
		"--health-bind-address", addr, "--metrics-bind-address", "", "-v=2")
	return p, addr
}

// waitReady waits until the controller says, on /readyz, that it follows every space.
func waitReady(t *testing.T, name, addr string, p *process.Process) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	framework.Eventually(t, 2*time.Minute, name+" is ready", func() bool {
		if exited, err := p.Exited(); exited {
			t.Fatalf("%s: %v", name, err)
		}
		return kubeapiserver.Probe(t.Context(), c, "http://"+addr+"/readyz") == nil
	})
}

// startWorkingSyncer runs a syncer, as its mailbox's ServiceAccount, between a mailbox in
// root:espw and the root space, and waits for its first heartbeat.
func startWorkingSyncer(t *testing.T, bin string, srv *framework.SpaceServer) *process.Process {
	t.Helper()
	ctx := t.Context()
	const mailbox, name = "mb1", "kubestellar-syncer-st1"
	admin := srv.Client("root:espw")
	require.NoError(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mailbox}}))
	for _, obj := range syncer.MailboxAccess(mailbox, name) {
		require.NoError(t, admin.Create(ctx, obj))
	}
	cfg := &edgev2alpha1.SyncerConfig{ObjectMeta: metav1.ObjectMeta{Namespace: mailbox, Name: wrapper.SyncerConfigName}}
	require.NoError(t, admin.Create(ctx, cfg))
	tr, err := kubernetes.NewForConfigOrDie(srv.Config("root:espw")).CoreV1().ServiceAccounts(mailbox).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	require.NoError(t, err)
	espw := srv.Config("root:espw")
	from := clientcmdapi.NewConfig()
	from.Clusters["espw"] = &clientcmdapi.Cluster{Server: espw.Host, CertificateAuthorityData: espw.CAData}
	from.AuthInfos["syncer"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	from.Contexts["mailbox"] = &clientcmdapi.Context{Cluster: "espw", AuthInfo: "syncer", Namespace: mailbox}
	from.CurrentContext = "mailbox"
	fromPath := filepath.Join(t.TempDir(), "mailbox.kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*from, fromPath))

	p := framework.StartCommand(t, filepath.Join(bin, "kubestellar-syncer"), "--from-kubeconfig", fromPath,
		"--to-kubeconfig", srv.Kubeconfig, "--to-context", kubeconfig.RootContext, "--sync-target-name", "st1", "-v=2")
	framework.Eventually(t, 2*time.Minute, "the syncer records a heartbeat", func() bool {
		if exited, err := p.Exited(); exited {
			t.Fatalf("kubestellar-syncer: %v", err)
		}
		got := &edgev2alpha1.SyncerConfig{}
		return admin.Get(ctx, client.ObjectKeyFromObject(cfg), got) == nil && got.Status.LastSyncerHeartbeatTime != nil
	})
	return p
}

func spaceServerArgs(t *testing.T, dir string, extra ...string) []string {
	t.Helper()
	port, err := kubeapiserver.FreePort("127.0.0.1")
	require.NoError(t, err)
	return append([]string{
		"--root-dir", filepath.Join(dir, "root"), "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(port),
		"--kube-apiserver", framework.Binary(t, "kube-apiserver"),
		"--kube-controller-manager", framework.Binary(t, "kube-controller-manager"), "-v=2",
	}, extra...)
}

// blackhole listens on a loopback port, accepts connections and never answers on them.
func blackhole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// kubeconfigFor writes a kubeconfig whose contexts root, base and (with a namespace, for a
// syncer) mailbox all reach server.
func kubeconfigFor(t *testing.T, server, namespace string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "never-checked"}
	for _, name := range []string{kubeconfig.RootContext, kubeconfig.BaseContext, "mailbox"} {
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u", Namespace: namespace}
	}
	cfg.CurrentContext = kubeconfig.RootContext
	if namespace != "" {
		cfg.CurrentContext = "mailbox"
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}
