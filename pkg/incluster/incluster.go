// Package incluster does the work of the init container when the KubeStellar core runs in a
// hosting cluster: it waits for the space server beside it, ensures the core spaces, makes
// the server's certificate cover the names clients use, and publishes kubeconfigs for clients
// inside and outside the hosting cluster in a Secret.
package incluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/bootstrap"
	"github.com/kubestellar/kubestellar/pkg/deploy"
	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
	"github.com/kubestellar/kubestellar/pkg/spaces"
	"github.com/kubestellar/kubestellar/pkg/spaces/server"
)

// ServicePort is the port of the core's Service and of the space server.
const ServicePort = 6443

// Options say where the core's state is and what to publish where.
type Options struct {
	// RootDir is the space server's --root-dir, shared with this container.
	RootDir string
	// Namespace holds the Service, the Secret and the Route.
	Namespace string
	// SecretName is the Secret to fill; the chart makes it, empty.
	SecretName string
	// ServiceName is the core's Service; cluster.kubeconfig uses https://<it>.<Namespace>.svc:6443.
	ServiceName string
	// ExternalEndpoint is host:port for external.kubeconfig; when empty, the host of the Route
	// RouteName (port 443).
	ExternalEndpoint string
	// RouteName is the OpenShift Route that exposes the core, if any.
	RouteName string
	// Bootstrap says which spaces to ensure.
	Bootstrap bootstrap.Options
	// Host reaches the hosting cluster.
	Host client.Client
	// Progress receives a line per step.
	Progress spaces.Progress
}

// Publish does it all once; it is idempotent, so a restarted container just does it again.
func Publish(ctx context.Context, o Options) error {
	say := o.Progress
	if say == nil {
		say = func(string, ...any) {}
	}
	adminFile := filepath.Join(o.RootDir, server.AdminKubeconfig)
	waitCtx, cancel := context.WithTimeout(ctx, o.Bootstrap.Timeout)
	err := kubeconfig.WaitForFile(waitCtx, adminFile, func(waited time.Duration) {
		say("Waiting for the space server to write %s (%s so far)", adminFile, waited)
	})
	cancel()
	if err != nil {
		return err
	}
	admin, err := clientcmd.LoadFromFile(adminFile)
	if err != nil {
		return fmt.Errorf("reading %s: %w", adminFile, err)
	}
	// The spaces are ensured as the init step's own identity, whose kubeconfig the space
	// server writes before the admin one (here into a volume made anew with the pod).
	initFile := server.IdentityKubeconfig(o.RootDir, server.ComponentInit)
	waitCtx, cancel = context.WithTimeout(ctx, o.Bootstrap.Timeout)
	err = kubeconfig.WaitForFile(waitCtx, initFile, func(waited time.Duration) {
		say("Waiting for the space server to write %s (%s so far)", initFile, waited)
	})
	cancel()
	if err != nil {
		return err
	}
	initConfig, err := clientcmd.LoadFromFile(initFile)
	if err != nil {
		return fmt.Errorf("reading %s: %w", initFile, err)
	}
	// It names its certificate files relative to itself, as the loading rules resolve them.
	if err := clientcmd.ResolveLocalPaths(initConfig); err != nil {
		return fmt.Errorf("reading %s: %w", initFile, err)
	}
	restConfig, err := clientcmd.NewNonInteractiveClientConfig(*initConfig, kubeconfig.RootContext, nil, nil).ClientConfig()
	if err != nil {
		return fmt.Errorf("%s: %w", initFile, err)
	}
	c, _, err := spaces.NewClient(restConfig)
	if err != nil {
		return err
	}
	bo := o.Bootstrap
	bo.Progress = say
	if err := bootstrap.Init(ctx, c, bo); err != nil {
		return err
	}

	endpoint := o.ExternalEndpoint
	if endpoint == "" && o.RouteName != "" {
		host, err := routeHost(ctx, o.Host, o.Namespace, o.RouteName, o.Bootstrap.Timeout, say)
		if err != nil {
			return err
		}
		endpoint = net.JoinHostPort(host, strconv.Itoa(deploy.OpenShiftPort))
	}
	internalHost := o.ServiceName + "." + o.Namespace + ".svc"
	names := []string{internalHost}
	var extHost, extPort string
	if endpoint != "" {
		if extHost, extPort, err = net.SplitHostPort(endpoint); err != nil {
			return fmt.Errorf("external endpoint %q: %w", endpoint, err)
		}
		// An IP address is not sent by SNI; the space server's default certificate covers it
		// when given as --external-hostname.
		if net.ParseIP(extHost) == nil {
			names = append(names, extHost)
		}
	}
	for _, name := range names {
		if _, err := server.EnsureDomainCreds(filepath.Join(o.RootDir, "pki"), name); err != nil {
			return fmt.Errorf("serving certificate for %s: %w", name, err)
		}
		say("The serving certificate covers %s", name)
	}

	data := map[string][]byte{}
	if data[deploy.KeyAdmin], err = clientcmd.Write(*admin); err != nil {
		return err
	}
	if data[deploy.KeyCluster], err = rewritten(admin, internalHost, strconv.Itoa(ServicePort)); err != nil {
		return err
	}
	if endpoint != "" {
		if data[deploy.KeyExternal], err = rewritten(admin, extHost, extPort); err != nil {
			return err
		}
	}
	if err := writeSecret(ctx, o.Host, o.Namespace, o.SecretName, data); err != nil {
		return err
	}
	say("Secret %s in namespace %s holds the kubeconfigs (server %s for clients in the cluster, %s outside)",
		o.SecretName, o.Namespace, internalHost, orNone(endpoint))
	return nil
}

// rewritten returns the admin kubeconfig reaching the server at host:port, trusting the
// same CA.
func rewritten(admin *clientcmdapi.Config, host, port string) ([]byte, error) {
	cfg := admin.DeepCopy()
	rootContext, ok := cfg.Contexts[kubeconfig.RootContext]
	if !ok || cfg.Clusters[rootContext.Cluster] == nil {
		return nil, fmt.Errorf("the admin kubeconfig has no context %q with a cluster", kubeconfig.RootContext)
	}
	root := cfg.Clusters[rootContext.Cluster]
	if err := kubeconfig.SwitchDomain(cfg, kubeconfig.RootContext, host, port, root.CertificateAuthorityData); err != nil {
		return nil, err
	}
	return clientcmd.Write(*cfg)
}

// routeHost waits for the Route to have a host admitted by a router, or one in its spec.
func routeHost(ctx context.Context, c client.Client, namespace, name string, timeout time.Duration, say spaces.Progress) (string, error) {
	var host string
	var state string
	start, last := time.Now(), time.Time{}
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		route := &routev1.Route{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, route); err != nil {
			if apierrors.IsForbidden(err) {
				return false, fmt.Errorf("reading Route %s: %w", name, err)
			}
			state = err.Error()
		} else if host = admittedHost(route); host != "" {
			return true, nil
		} else {
			state = "no router has admitted it yet"
		}
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			say("Waiting for the host of Route %s (%s so far): %s", name, time.Since(start).Round(time.Second), state)
		}
		return false, nil
	})
	if err != nil {
		return "", fmt.Errorf("learning the external host from Route %s in namespace %s: %s (give --external-endpoint to deploy instead): %w", name, namespace, state, err)
	}
	return host, nil
}

func admittedHost(r *routev1.Route) string {
	for _, in := range r.Status.Ingress {
		for _, c := range in.Conditions {
			if c.Type == routev1.RouteAdmitted && c.Status == corev1.ConditionTrue && in.Host != "" {
				return in.Host
			}
		}
	}
	return ""
}

// writeSecret puts data into the existing Secret, changing it only when it differs.
func writeSecret(ctx context.Context, c client.Client, namespace, name string, data map[string][]byte) error {
	secret := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("Secret %s in namespace %s does not exist; the chart makes it (re-run `kubectl kubestellar deploy`)", name, namespace) //nolint:staticcheck // a kind name starts the sentence
		}
		return fmt.Errorf("reading Secret %s in namespace %s: %w", name, namespace, err)
	}
	same := true
	for k, v := range data {
		if !bytes.Equal(secret.Data[k], v) {
			same = false
		}
	}
	if same {
		return nil
	}
	patch := client.MergeFrom(secret.DeepCopy())
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	for k, v := range data {
		secret.Data[k] = v
	}
	if err := c.Patch(ctx, secret, patch); err != nil {
		return fmt.Errorf("writing Secret %s in namespace %s: %w", name, namespace, err)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none (no external endpoint)"
	}
	return s
}
