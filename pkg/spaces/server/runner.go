package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/klog/v2"

	"github.com/kubestellar/kubestellar/pkg/kubeapiserver"
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/process"
)

// controllers are the kube-controller-manager controllers every space runs: the ones that
// make namespaces deletable, owner references effective and service accounts usable.
var controllers = []string{
	"namespace-controller",
	"garbage-collector-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller",
	"clusterrole-aggregation-controller",
}

// stopGrace is how long a space's processes are given to exit on SIGTERM before they are
// killed; a healthy kube-apiserver needs about a second.
const stopGrace = 3 * time.Second

// binaries are the upstream programs a space runs.
type binaries struct {
	KubeAPIServer, KubeControllerManager string
}

// runnerEnv is what every runner shares.
type runnerEnv struct {
	bin      binaries
	pki      *PKI
	storage  *storage
	spaceDir func(id string) string
	// onChange is called whenever a runner's state changes.
	onChange func(path string)
	// verbosity is the -v level of the upstream programs.
	verbosity int
}

// runnerState is what a runner reports.
type runnerState struct {
	// Ready means the space's API server answers.
	Ready bool
	// BackendURL is the API server's URL while Ready.
	BackendURL string
	// Message says what is happening, or what went wrong.
	Message string
}

// runner keeps one space's kube-apiserver and kube-controller-manager running, restarting
// them with back-off when they fail, until stopped.
type runner struct {
	env     *runnerEnv
	path    string
	id      string
	profile Profile

	mu    sync.Mutex
	state runnerState

	cancel context.CancelFunc
	done   chan struct{}
}

func newRunner(env *runnerEnv, path, id string, profile Profile) *runner {
	return &runner{env: env, path: path, id: id, profile: profile, state: runnerState{Message: "starting"}}
}

// State returns the runner's current state.
func (r *runner) State() runnerState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

func (r *runner) setState(s runnerState) {
	r.mu.Lock()
	changed := r.state != s
	r.state = s
	r.mu.Unlock()
	if changed && r.env.onChange != nil {
		r.env.onChange(r.path)
	}
}

// Start runs the space in the background.
func (r *runner) Start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		r.loop(ctx)
	}()
}

// Stop stops the space's processes and waits until they have exited.
func (r *runner) Stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
}

func (r *runner) loop(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("space", r.path, "id", r.id, "profile", r.profile.Name)
	backoff := wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 1 << 30, Cap: time.Minute}
	for {
		started := time.Now()
		err := r.runOnce(ctx)
		if ctx.Err() != nil {
			r.setState(runnerState{Message: "stopped"})
			return
		}
		if time.Since(started) > 5*time.Minute {
			backoff = wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 1 << 30, Cap: time.Minute}
		}
		delay := backoff.Step()
		logger.Error(err, "Space processes failed; restarting", "after", delay)
		r.setState(runnerState{Message: fmt.Sprintf("%v; restarting in %s", err, delay.Round(time.Second))})
		select {
		case <-ctx.Done():
			r.setState(runnerState{Message: "stopped"})
			return
		case <-time.After(delay):
		}
	}
}

// runOnce starts the processes, publishes the space while they run, and returns when one of
// them exits (an error) or ctx ends (after stopping them).
func (r *runner) runOnce(ctx context.Context) error {
	dir := r.env.spaceDir(r.id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	saKey := filepath.Join(dir, "service-account.key")
	if _, _, err := keyutil.LoadOrGenerateKeyFile(saKey); err != nil {
		return fmt.Errorf("service-account signing key: %w", err)
	}
	p, st := r.env.pki, r.env.storage
	apiserver, err := kubeapiserver.Start(ctx, kubeapiserver.Config{
		Binary:                       r.env.bin.KubeAPIServer,
		Name:                         r.path,
		LogFile:                      filepath.Join(dir, "kube-apiserver.log"),
		ServingCertFile:              p.loopbackServingCert(),
		ServingKeyFile:               p.loopbackServingKey(),
		ServingCAFile:                p.caCert(),
		ClientCAFile:                 p.caCert(),
		RequestHeaderCAFile:          p.frontProxyCACert(),
		RequestHeaderAllowedNames:    []string{FrontProxyUser},
		ProxyClientCertFile:          p.frontProxyClientCert(),
		ProxyClientKeyFile:           p.frontProxyClientKey(),
		EtcdServers:                  st.Servers,
		EtcdPrefix:                   etcdPrefix(r.id),
		EtcdCAFile:                   st.CAFile,
		EtcdCertFile:                 st.CertFile,
		EtcdKeyFile:                  st.KeyFile,
		ServiceAccountIssuer:         serviceAccountIssuer(r.id),
		ServiceAccountKeyFile:        saKey,
		ServiceAccountSigningKeyFile: saKey,
		ExtraArgs:                    r.profile.APIServerArgs,
		Env:                          childEnv(r.profile.APIServerGOGC),
		Verbosity:                    r.env.verbosity,
	})
	if err != nil {
		return err
	}
	var kcm *process.Process
	defer func() {
		// Both are stopped at once: a kube-apiserver whose etcd is gone does not finish its
		// graceful shutdown, and the server's own shutdown must not wait long for it.
		var wg sync.WaitGroup
		wg.Go(func() { apiserver.Stop(stopGrace) })
		if kcm != nil {
			wg.Go(func() { kcm.Stop(stopGrace) })
		}
		wg.Wait()
	}()

	kcmConfig := filepath.Join(dir, "kube-controller-manager.kubeconfig")
	cfg := kubeconfig.ForServer("space", apiserver.URL, ControllerManagerUser, kubeconfig.Credentials{
		CA: p.CA.CertPEM, CertFile: p.controllerManagerCert(), KeyFile: p.controllerManagerKey(),
	})
	if err := clientcmd.WriteToFile(*cfg, kcmConfig); err != nil {
		return fmt.Errorf("writing controller manager kubeconfig: %w", err)
	}
	kcm, err = process.Start(process.Spec{
		Name: "kube-controller-manager " + r.path,
		Path: r.env.bin.KubeControllerManager,
		Args: []string{
			"--kubeconfig=" + kcmConfig,
			"--controllers=" + strings.Join(controllers, ","),
			"--service-account-private-key-file=" + saKey,
			"--root-ca-file=" + p.caCert(),
			"--use-service-account-credentials=true",
			"--leader-elect=false",
			"--secure-port=0",
			fmt.Sprintf("--v=%d", r.env.verbosity),
		},
		Env:     childEnv(r.profile.ControllerManagerGOGC),
		LogFile: filepath.Join(dir, "kube-controller-manager.log"),
	})
	if err != nil {
		return err
	}

	r.setState(runnerState{Ready: true, BackendURL: apiserver.URL, Message: "serving"})
	select {
	case <-ctx.Done():
		return nil
	case <-apiserver.Done():
		return fmt.Errorf("kube-apiserver exited: %w", errOrExit(apiserver.Err()))
	case <-kcm.Done():
		return fmt.Errorf("kube-controller-manager exited: %w (see %s)", errOrExit(kcm.Err()), kcm.LogFile())
	}
}

// serviceAccountIssuer identifies (it is not a location) the issuer of a space's
// service-account tokens; each space has its own, so no space accepts another's tokens.
func serviceAccountIssuer(id string) string { return "https://spaces.kubestellar.io/" + id }

func errOrExit(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}
