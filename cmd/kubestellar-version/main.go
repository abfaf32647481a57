// Command kubestellar-version prints the build information of this KubeStellar release as
// JSON, or one field of it.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/kubestellar/kubestellar/pkg/version"
)

func main() {
	info := version.Get()
	switch len(os.Args) {
	case 1:
		out, err := json.Marshal(info)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(string(out))
	case 2:
		value, ok := info.Field(os.Args[1])
		if !ok {
			fmt.Fprintf(os.Stderr, "Invalid component requested: %q\n", os.Args[1])
			usage()
			os.Exit(1)
		}
		fmt.Println(value)
	default:
		usage()
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "Usage: %s [%s]\n", os.Args[0], strings.Join(version.Components, "|"))
}
