// Command wait-and-switch-domain waits for a kubeconfig's server, then rewrites the
// kubeconfig to reach that server by another domain and port.
package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
)

func main() {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait-and-switch-domain " + kubeconfig.SwitchDomainUsage,
		Short: "Wait for a server, then write a kubeconfig that reaches it by another domain and port",
		Long: `wait-and-switch-domain waits until the server of context CONTEXT in IN answers, then does
what switch-domain does: writes OUT as a copy of IN in which every cluster whose server URL
has the same scheme, host and port as CONTEXT's cluster uses DOMAIN:PORT instead (the URL
path is kept) and trusts the CA certificate in CAFILE. IN is only read.`,
		Args: cobra.ExactArgs(6),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := kubeconfig.ParseSwitchDomainArgs(args)
			if err != nil {
				return err
			}
			cmd.SilenceUsage = true
			if err := kubeconfig.WaitForContext(cmd.Context(), a.In, a.Context, timeout, cmd.ErrOrStderr()); err != nil {
				return err
			}
			return kubeconfig.SwitchDomainFile(a)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "How long to wait for the server")
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}
