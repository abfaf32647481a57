// Command kubestellar-ensure-kcp-server-creds makes, or re-uses, a serving certificate for
// one domain under ./pki and prints the CA, certificate and key paths on one line.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kubestellar/kubestellar/pkg/spaces/server"
)

func main() {
	cmd := &cobra.Command{
		Use:   "kubestellar-ensure-kcp-server-creds DOMAIN",
		Short: "Make or re-use a serving certificate for DOMAIN under ./pki",
		Long: `kubestellar-ensure-kcp-server-creds makes, or re-uses when present, a PKI under ./pki: a CA
(pki/ca.crt, pki/private/ca.key) and a serving certificate whose only subject alternative
name is DNS:DOMAIN (pki/issued/kcp-DNS-DOMAIN.crt, pki/private/kcp-DNS-DOMAIN.key).

Progress goes to stderr. Stdout gets one line, the absolute paths of the CA certificate, the
certificate and the key, so that this works:

  eval pieces=($(kubestellar-ensure-kcp-server-creds ks.example.com))

Run in a space server's --root-dir, it issues the certificate from the server's own CA, and
the running server serves it to clients that ask for DOMAIN, without a restart. Otherwise,
give the certificate and key to the server with --tls-sni-cert-key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			domain := args[0]
			certExisted := exists(filepath.Join("pki", "issued", "kcp-DNS-"+domain+".crt"))
			caExisted := exists(filepath.Join("pki", "ca.crt"))
			cmd.SilenceUsage = true
			creds, err := server.EnsureDomainCreds("pki", domain)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			if caExisted {
				fmt.Fprintf(stderr, "Using the existing CA %s\n", creds.CAFile)
			} else {
				fmt.Fprintf(stderr, "Created the CA %s\n", creds.CAFile)
			}
			if certExisted {
				fmt.Fprintf(stderr, "Using the certificate for %s, %s\n", domain, creds.CertFile)
			} else {
				fmt.Fprintf(stderr, "Issued a certificate for %s, %s\n", domain, creds.CertFile)
			}
			fmt.Fprintln(cmd.OutOrStdout(), creds.CAFile, creds.CertFile, creds.KeyFile)
			return nil
		},
	}
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
