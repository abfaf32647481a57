// Command kubestellar-list-syncing-objects lists workload objects across all mailboxes.
package main

import (
	"github.com/kubestellar/kubestellar/pkg/cli/console"
	"github.com/kubestellar/kubestellar/pkg/cli/listsyncing"
)

func main() { console.Main(listsyncing.NewListSyncingObjectsCommand) }
