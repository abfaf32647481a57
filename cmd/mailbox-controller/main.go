// Command mailbox-controller keeps one mailbox namespace in the KubeStellar core space for
// every SyncTarget in every space.
package main

import (
	"context"

	"github.com/kubestellar/kubestellar/pkg/controllerhost"
	"github.com/kubestellar/kubestellar/pkg/mailbox"
	"github.com/kubestellar/kubestellar/pkg/multicluster"
)

func main() {
	controllerhost.Main(controllerhost.Command{
		Name:  "mailbox-controller",
		Short: "Keep a mailbox namespace in the core space for every SyncTarget",
		Long: `mailbox-controller keeps, for every SyncTarget in every space, one mailbox: a namespace in
the core space (--espw-path) named <space ID>-mb-<SyncTarget UID>, labelled
edge.kubestellar.io/mailbox=true and annotated edge.kubestellar.io/sync-target-name=<name>.
It creates missing mailboxes, deletes unwanted ones (the SyncTarget or its space is gone or
being deleted) and re-creates a mailbox that someone deleted. At -v=2 it logs one line per
mailbox created or deleted.

The --base-* flags may also be typed --mbws-kubeconfig, --mbws-context, --mbws-user and
--mbws-cluster, their names in the original KubeStellar (the client for mailbox
workspaces). At -v=1 it logs its command-line flags when it starts.`,
		MetricsBindAddress: "127.0.0.1:10203",
		HealthBindAddress:  ":10213",
		FlagAliases: map[string]string{
			"mbws-kubeconfig": "base-kubeconfig",
			"mbws-context":    "base-context",
			"mbws-user":       "base-user",
			"mbws-cluster":    "base-cluster",
		},
		Setup: func(_ context.Context, mgr *multicluster.Manager, o *controllerhost.Options) error {
			_, err := mailbox.Setup(mgr, mailbox.Options{ESPWPath: o.ESPWPath, Concurrency: o.Concurrency})
			return err
		},
	})
}
