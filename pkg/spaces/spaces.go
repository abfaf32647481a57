// Package spaces is what clients and controllers need to know about spaces: how paths are
// written, how a space's client configuration is made from the base one, and how space IDs
// look. The space server itself is in the server subpackage.
package spaces

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"k8s.io/client-go/rest"
)

const (
	// RootPath is the path of the root space, where Space objects live.
	RootPath = "root"
	// RootID is the ID of the root space.
	RootID = "root"
	// ClustersPrefix starts every space's URL path: /clusters/<path>.
	ClustersPrefix = "/clusters/"
	// IDLength is the number of characters of a space ID.
	IDLength = 16
)

// Default paths of the spaces, as the original KubeStellar names its workspaces.
const (
	// DefaultIMW is the inventory management space made when none is named.
	DefaultIMW = "root:imw1"
	// DefaultWMW is the workload management space made when none is named.
	DefaultWMW = "root:wmw1"
	// DefaultESPW is the core space, where the mailboxes are.
	DefaultESPW = "root:espw"
)

var segment = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidatePath checks that path is "root" or "root:<name>" with name a DNS label.
func ValidatePath(path string) error {
	name, ok := strings.CutPrefix(path, RootPath+":")
	switch {
	case path == RootPath:
		return nil
	case !ok:
		return fmt.Errorf("space path %q must be %q or start with %q", path, RootPath, RootPath+":")
	case !segment.MatchString(name) || len(name) > 63:
		return fmt.Errorf("space path %q: %q must be a DNS label (lowercase letters, digits and '-', at most 63 characters)", path, name)
	}
	return nil
}

// ChildPath is the path of the child space of root declared by the Space named name.
func ChildPath(name string) string { return RootPath + ":" + name }

// ChildName is the name of the Space object that declares path, and false when path is not
// a child of root.
func ChildName(path string) (string, bool) {
	name, ok := strings.CutPrefix(path, RootPath+":")
	return name, ok && name != "" && !strings.Contains(name, ":")
}

// URL is the URL of the space at path, given the server's base URL.
func URL(baseURL, path string) string {
	return strings.TrimRight(baseURL, "/") + ClustersPrefix + path
}

// ConfigFor returns a copy of the base client configuration (whose host is the space server's
// base URL) that addresses the space at path.
func ConfigFor(base *rest.Config, path string) *rest.Config {
	cfg := rest.CopyConfig(base)
	cfg.Host = URL(base.Host, path)
	return cfg
}

// NewID returns a random space ID: 16 lowercase base-36 characters, as kcp's are.
func NewID() (string, error) {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	limit := big.NewInt(int64(len(alphabet)))
	var b strings.Builder
	for range IDLength {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", fmt.Errorf("choosing a space ID: %w", err)
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String(), nil
}
