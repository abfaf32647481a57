// Package plugin is the command tree of the kubectl-kubestellar plugin (`kubectl kubestellar
// ...`). Each command parses its flags and hands the work to the package of its concern.
package plugin

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubestellar/kubestellar/pkg/apis"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// env is what every command shares: the kubectl flags, the streams, -X.
type env struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	trace   bool
}

// step prints, with -X, each step as it is taken.
func (e *env) step(format string, args ...any) {
	if e.trace {
		fmt.Fprintf(e.streams.ErrOut, "+ "+format+"\n", args...)
	}
}

// say prints a result line.
func (e *env) say(format string, args ...any) {
	fmt.Fprintf(e.streams.Out, format+"\n", args...)
}

// progress prints a line about a long wait.
func (e *env) progress(format string, args ...any) {
	fmt.Fprintf(e.streams.ErrOut, format+"\n", args...)
}

func (e *env) addTrace(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&e.trace, "trace", "X", false, "print each step as it is taken")
}

// spaces returns a client for the space server the kubeconfig reaches, and the current path.
func (e *env) spaces() (*spaces.Client, string, error) {
	cfg, err := e.restConfig()
	if err != nil {
		return nil, "", err
	}
	return spaces.NewClient(cfg)
}

// restConfig is the client configuration the kubeconfig and the flags give. A kubeconfig
// with no context is an error naming it, not client-go's fall-back to http://localhost:8080,
// unless the command runs in a pod, where the pod's own configuration is meant.
func (e *env) restConfig() (*rest.Config, error) {
	raw, err := e.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, err
	}
	given := func(s *string) bool { return s != nil && *s != "" }
	if raw.CurrentContext == "" && !given(e.flags.Context) && !given(e.flags.APIServer) && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		which := "the kubeconfig ($KUBECONFIG, else ~/.kube/config)"
		if given(e.flags.KubeConfig) {
			which = "--kubeconfig " + *e.flags.KubeConfig
		}
		return nil, fmt.Errorf("%s has no current context: give a kubeconfig that reaches the KubeStellar space server, "+
			"such as the one kubectl kubestellar get-external-kubeconfig writes, or name a context with --context", which)
	}
	return e.flags.ToRESTConfig()
}

// clientFor returns a client for the space at path.
func clientFor(c *spaces.Client, path string) (client.Client, error) {
	return client.New(c.Config(path), client.Options{Scheme: apis.NewScheme()})
}

// caData returns the CA a client configuration trusts, from data or file.
func caData(cfg *rest.Config) ([]byte, error) {
	if len(cfg.CAData) > 0 {
		return cfg.CAData, nil
	}
	if cfg.CAFile != "" {
		return readFile(cfg.CAFile)
	}
	return nil, nil
}

func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}
