// Command kubestellar runs the KubeStellar core as bare processes on this machine.
package main

import "github.com/kubestellar/kubestellar/pkg/cli"

func main() { cli.Main(cli.NewKubestellarCommand) }
