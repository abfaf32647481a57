// Command coredns is CoreDNS with only the plugins the local single-node cluster's DNS uses
// (hack/cluster): CoreDNS's own main, with its plugin list cut down so that building it does
// not compile every cloud provider's SDK.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins, each registering itself.
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// directives lists the plugins in the order CoreDNS's plugin.cfg gives them, which is the
// order a query passes through them whatever the order in the Corefile.
var directives = []string{
	"bind",
	"ready",
	"errors",
	"log",
	"cache",
	"hosts",
	"kubernetes",
	"forward",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
