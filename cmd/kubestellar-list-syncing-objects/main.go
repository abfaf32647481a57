// Command kubestellar-list-syncing-objects lists workload objects across all mailboxes.
package main

import "github.com/kubestellar/kubestellar/pkg/cli"

func main() { cli.Main(cli.NewListSyncingObjectsCommand) }
