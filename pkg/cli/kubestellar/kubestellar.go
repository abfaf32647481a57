// Package kubestellar is the command tree of the kubestellar command: init, start and stop of
// the core as bare processes, and the chart's init-in-cluster step.
package kubestellar

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubestellar/kubestellar/pkg/localrun"
	"github.com/kubestellar/kubestellar/pkg/spaces"
)

// Defaults of --log-folder and --root-dir, shared with remove-kubestellar.
const (
	defaultLogFolder = "./kubestellar-logs"
	defaultRootDir   = ".kubestellar"
)

// NewKubestellarCommand returns the kubestellar command: init, start and stop of the core as
// bare processes on this machine.
func NewKubestellarCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &localrun.Options{Out: streams.Out}
	var imws, wmws string
	var trace bool
	root := &cobra.Command{
		Use:   "kubestellar",
		Short: "Run the KubeStellar core as processes on this machine",
		Long: `kubestellar runs the KubeStellar core as bare processes on this machine: the space server
(with --local-kcp, the default) and the mailbox controller, where-resolver and placement
translator, in the background, with their logs and pid files in --log-folder.

  kubestellar start   stop what runs, start everything, then init
  kubestellar init    wait for the space server; ensure root:espw with the KubeStellar API,
                      the inventory (--ensure-imw) and workload (--ensure-wmw) spaces
  kubestellar stop    stop the processes recorded in --log-folder

remove-kubestellar stops them too and deletes the state and logs.

The admin kubeconfig (--root-dir/admin.kubeconfig) and so every syncer manifest made from it
name the server by an address other machines can reach: --external-hostname, else
--bind-address, else the first non-loopback IPv4 address of this machine; the serving
certificate covers it.

In a hosting cluster, the chart's init container runs kubestellar init-in-cluster.`,
		SilenceErrors: true,
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	pf := root.PersistentFlags()
	pf.BoolVarP(&o.Verbose, "verbose", "V", false, "more detail in the processes' logs")
	pf.BoolVarP(&trace, "trace", "X", false, "print each step as it is taken")
	pf.StringVar(&o.LogFolder, "log-folder", defaultLogFolder, "folder for the processes' logs and pid files")
	pf.BoolVar(&o.LocalServer, "local-kcp", true, "run the space server on this machine (false: use the one --kubeconfig reaches)")
	pf.StringVar(&imws, "ensure-imw", spaces.DefaultIMW, `inventory management spaces to ensure, comma-separated ("" for none)`)
	pf.StringVar(&wmws, "ensure-wmw", spaces.DefaultWMW, `workload management spaces to ensure, comma-separated ("" for none)`)
	pf.StringVar(&o.RootDir, "root-dir", defaultRootDir, "state directory of the local space server")
	pf.IntVar(&o.SecurePort, "secure-port", 6443, "port of the local space server")
	pf.StringVar(&o.BindAddress, "bind-address", "", "IP address the local space server listens on (default: every address); when given, also the address in its kubeconfig unless --external-hostname")
	pf.StringVar(&o.ExternalHostname, "external-hostname", "",
		"DNS name or IP address by which other machines (the WECs' syncers) reach the local space server, written into its kubeconfig "+
			"(default: --bind-address if given, else the first non-loopback IPv4 address of this machine)")
	pf.IntVar(&o.ControllerPort, "controller-port", 10203,
		"port on 127.0.0.1 of the mailbox controller's /metrics, the placement translator and where-resolver taking the next two; "+
			"each serves /healthz and /readyz 10 ports above its metrics port (0: none)")
	pf.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig reaching the space server when --local-kcp=false (default: $KUBECONFIG)")
	pf.StringVar(&o.Context, "context", "", "context in --kubeconfig")
	pf.DurationVar(&o.Timeout, "timeout", 3*time.Minute, "how long to wait for each step")
	o.ESPWPath = spaces.DefaultESPW

	prepare := func(cmd *cobra.Command, _ []string) error {
		var err error
		if o.IMWs, err = pathList("--ensure-imw", imws); err != nil {
			return err
		}
		if o.WMWs, err = pathList("--ensure-wmw", wmws); err != nil {
			return err
		}
		if trace {
			o.Trace = streams.ErrOut
		}
		if o.BindAddress != "" && net.ParseIP(o.BindAddress) == nil {
			return fmt.Errorf("--bind-address %q is not an IP address", o.BindAddress)
		}
		if h := o.ExternalHostname; h != "" && (strings.ContainsAny(h, "/:, ") || strings.HasPrefix(h, "-")) {
			return fmt.Errorf("--external-hostname %q must be a bare DNS name or IP address, without scheme or port", h)
		}
		if maxPort := 65535 - localrun.HealthPortOffset - 2; o.ControllerPort < 0 || o.ControllerPort > maxPort {
			return fmt.Errorf("--controller-port %d is not a port from 1 to %d (or 0 for none)", o.ControllerPort, maxPort)
		}
		if !o.LocalServer && o.Kubeconfig == "" {
			o.Kubeconfig = clientcmd.NewDefaultClientConfigLoadingRules().GetDefaultFilename()
		}
		cmd.SilenceUsage = true
		return nil
	}
	root.AddCommand(
		&cobra.Command{Use: "init", Short: "Ensure the core space, IMWs and WMWs", Args: cobra.NoArgs, PreRunE: prepare,
			RunE: func(cmd *cobra.Command, _ []string) error { return localrun.Init(cmd.Context(), o) }},
		&cobra.Command{Use: "start", Short: "Start the space server and the controllers, then init", Args: cobra.NoArgs, PreRunE: prepare,
			RunE: func(cmd *cobra.Command, _ []string) error { return localrun.Start(cmd.Context(), o) }},
		&cobra.Command{Use: "stop", Short: "Stop the processes that start started", Args: cobra.NoArgs, PreRunE: prepare,
			RunE: func(cmd *cobra.Command, _ []string) error { return localrun.Stop(cmd.Context(), o) }},
		newInitInClusterCommand(streams, o, prepare),
	)
	return root
}

// pathList parses a comma-separated list of space paths.
func pathList(flag, value string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(value, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if err := spaces.ValidatePath(p); err != nil || p == spaces.RootPath {
			return nil, fmt.Errorf("%s: %q is not a space path such as root:imw1", flag, p)
		}
		out = append(out, p)
	}
	return out, nil
}
