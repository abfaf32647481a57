//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/syncer"
)

// syncerProc is one cluster's syncer process, whose every connection to the core passes
// through a proxy the suite can cut.
type syncerProc struct {
	wec     *wec
	mailbox string
	proc    *proc
	proxy   *toxiproxy.Proxy
}

// newToxiproxy is a proxy server in the test process, without its HTTP API: the suite drives
// its proxies directly.
func newToxiproxy() *toxiproxy.ApiServer {
	return toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
}

// startSyncer gives the mailbox a ServiceAccount that reaches it alone (as prep-for-syncer
// does), puts a proxy between the syncer and the space server, and starts the syncer.
func startSyncer(t testing.TB, c *core, tp *toxiproxy.ApiServer, bin, dir string, w *wec, mailbox string) *syncerProc {
	t.Helper()
	ctx := t.Context()
	espw := c.config(espwPath)
	admin, err := client.New(espw, client.Options{Scheme: apis.NewScheme()})
	must(t, err)
	name := "kubestellar-syncer-" + w.name
	for _, obj := range syncer.MailboxAccess(mailbox, name) {
		must(t, admin.Create(ctx, obj))
	}
	tr, err := kubernetes.NewForConfigOrDie(espw).CoreV1().ServiceAccounts(mailbox).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](12 * 3600)}}, metav1.CreateOptions{})
	must(t, err)

	port, err := kubeapiserver.FreePort("127.0.0.1")
	must(t, err)
	proxy := toxiproxy.NewProxy(tp, "syncer-"+w.name, "127.0.0.1:"+strconv.Itoa(port), "127.0.0.1:"+strconv.Itoa(c.port))
	must(t, tp.Collection.Add(proxy, true))
	t.Cleanup(proxy.Stop)

	ca, err := os.ReadFile(c.caFile())
	must(t, err)
	upstream := &rest.Config{
		Host:            spaces.URL("https://"+proxy.Listen, espwPath),
		BearerToken:     tr.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca},
	}
	from := writeKubeconfig(t, filepath.Join(dir, w.name+"-mailbox.kubeconfig"), "mailbox", upstream, mailbox)
	s := &syncerProc{
		wec: w, mailbox: mailbox, proxy: proxy,
		proc: &proc{
			name: syncerCommand + " " + w.name, path: filepath.Join(bin, syncerCommand),
			log:  filepath.Join(dir, "logs", "syncer-"+w.name+".log"),
			args: []string{"--from-kubeconfig", from, "--to-kubeconfig", w.kcPath, "--sync-target-name", w.name, "-v=2"},
		},
	}
	t.Cleanup(s.proc.stop)
	must(t, s.proc.start())
	return s
}

// Link cut modes: reset refuses and drops every connection; blackhole accepts connections
// and drops their bytes silently, the way a lost route looks.
const (
	cutReset     = "reset"
	cutBlackhole = "blackhole"
)

var blackholeToxics = []string{"blackhole-upstream", "blackhole-downstream"}

// cut cuts the syncer's link to the core.
func (s *syncerProc) cut(mode string) error {
	if mode == cutReset {
		s.proxy.Stop()
		return nil
	}
	for _, name := range blackholeToxics {
		stream := strings.TrimPrefix(name, "blackhole-")
		body := fmt.Sprintf(`{"name":%q,"type":"timeout","stream":%q,"toxicity":1,"attributes":{"timeout":0}}`, name, stream)
		if _, err := s.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
			return fmt.Errorf("adding toxic %s: %w", name, err)
		}
	}
	return nil
}

// mend undoes cut; removing the blackhole closes the connections it held.
func (s *syncerProc) mend(ctx context.Context, mode string) error {
	if mode == cutReset {
		// The port may be taken for a moment by a client's reconnect attempt.
		var err error
		for attempt := 0; attempt < 20; attempt++ {
			if err = s.proxy.Start(); err == nil {
				return nil
			}
			time.Sleep(250 * time.Millisecond)
		}
		return fmt.Errorf("restarting the proxy of %s: %w", s.wec.name, err)
	}
	for _, name := range blackholeToxics {
		if err := s.proxy.Toxics.RemoveToxic(ctx, name); err != nil {
			return fmt.Errorf("removing toxic %s: %w", name, err)
		}
	}
	return nil
}
