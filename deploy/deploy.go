// Package deploy holds the manifests that ship inside KubeStellar's binaries: the
// CustomResourceDefinitions of its APIs, generated from pkg/apis by `make generate`.
package deploy

import "embed"

// CRDs holds crds/<group>_<resource>.yaml, one CustomResourceDefinition per file.
//
//go:embed crds/*.yaml
var CRDs embed.FS
