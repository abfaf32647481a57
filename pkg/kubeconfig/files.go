package kubeconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"
)

// SwitchDomainArgs are the six arguments of switch-domain and wait-and-switch-domain.
type SwitchDomainArgs struct {
	In, Out, Context, Domain, Port, CAFile string
}

// SwitchDomainUsage is the argument synopsis of the domain-switching commands.
const SwitchDomainUsage = "IN OUT CONTEXT DOMAIN PORT CAFILE"

// ParseSwitchDomainArgs checks the argument count and names the arguments.
func ParseSwitchDomainArgs(args []string) (SwitchDomainArgs, error) {
	if len(args) != 6 {
		return SwitchDomainArgs{}, fmt.Errorf("expected 6 arguments (%s), got %d", SwitchDomainUsage, len(args))
	}
	return SwitchDomainArgs{In: args[0], Out: args[1], Context: args[2], Domain: args[3], Port: args[4], CAFile: args[5]}, nil
}

// SwitchDomainFile writes a.Out as a.In with SwitchDomain applied; a.In is only read.
func SwitchDomainFile(a SwitchDomainArgs) error {
	caPEM, err := os.ReadFile(a.CAFile)
	if err != nil {
		return fmt.Errorf("reading CAFILE: %w", err)
	}
	// What goes into the kubeconfig must be a CA clients can load, or every client of the
	// file written fails later, far from the cause.
	if _, err := certutil.ParseCertsPEM(caPEM); err != nil {
		return fmt.Errorf("CAFILE %s: %w; give the PEM file of the CA that signed the server's certificate", a.CAFile, err)
	}
	cfg, err := clientcmd.LoadFromFile(a.In)
	if err != nil {
		return fmt.Errorf("reading IN: %w", err)
	}
	if err := SwitchDomain(cfg, a.Context, a.Domain, a.Port, caPEM); err != nil {
		return fmt.Errorf("%s: %w", a.In, err)
	}
	if err := clientcmd.WriteToFile(*cfg, a.Out); err != nil {
		return fmt.Errorf("writing OUT: %w", err)
	}
	return nil
}

// WaitForContext waits until the server of contextName in the kubeconfig file answers a
// version request, printing progress to progress every 10 seconds, for at most timeout.
func WaitForContext(ctx context.Context, file, contextName string, timeout time.Duration, progress io.Writer) error {
	cfg, err := clientcmd.LoadFromFile(file)
	if err != nil {
		return fmt.Errorf("reading IN: %w", err)
	}
	if _, ok := cfg.Contexts[contextName]; !ok {
		return fmt.Errorf("%s: context %q not found; the kubeconfig has %s", file, contextName, names(cfg.Contexts))
	}
	restConfig, err := clientcmd.NewNonInteractiveClientConfig(*cfg, contextName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return fmt.Errorf("%s: context %q: %w", file, contextName, err)
	}
	restConfig.Timeout = 5 * time.Second
	client, err := discovery.NewDiscoveryClientForConfig(restConfig)
	if err != nil {
		return err
	}
	start := time.Now()
	lastReport := start
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(context.Context) (bool, error) {
		if _, lastErr = client.ServerVersion(); lastErr == nil {
			return true, nil
		}
		if time.Since(lastReport) >= 10*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(progress, "Waiting for %s to answer (%s so far): %v\n", restConfig.Host, time.Since(start).Round(time.Second), lastErr)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("%s did not answer within %s: %w", restConfig.Host, timeout, lastErr)
	}
	return nil
}

// WaitForFile waits until the file at path exists (one that another process or container
// writes when it starts, such as the space server's admin.kubeconfig), calling progress with
// the time waited every 10 s, until ctx ends.
func WaitForFile(ctx context.Context, path string, progress func(waited time.Duration)) error {
	start, last := time.Now(), time.Now()
	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(context.Context) (bool, error) {
		_, err := os.Stat(path)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			progress(time.Since(start).Round(time.Second))
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", path, err)
	}
	return nil
}
