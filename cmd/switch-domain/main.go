// Command switch-domain rewrites a kubeconfig to reach its server by another domain and port.
package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/kubestellar/kubestellar/pkg/kubeconfig"
)

func main() {
	cmd := &cobra.Command{
		Use:   "switch-domain " + kubeconfig.SwitchDomainUsage,
		Short: "Write a copy of a kubeconfig that reaches its server by another domain and port",
		Long: `switch-domain writes OUT as a copy of IN in which every cluster whose server URL has the
same scheme, host and port as the cluster of context CONTEXT uses DOMAIN:PORT instead (the
URL path is kept) and trusts the CA certificate in CAFILE. IN is only read.`,
		Args: cobra.ExactArgs(6),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := kubeconfig.ParseSwitchDomainArgs(args)
			if err != nil {
				return err
			}
			cmd.SilenceUsage = true
			return kubeconfig.SwitchDomainFile(a)
		},
	}
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}
