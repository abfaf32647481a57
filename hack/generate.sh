#!/usr/bin/env bash
# Regenerates the deep-copy code and the CRD manifests of the module rooted at ROOT.
# Usage: hack/generate.sh CONTROLLER_GEN [ROOT]
set -euo pipefail

controller_gen=$(realpath "$1")
cd "${2:-.}"

"$controller_gen" object paths=./pkg/apis/...
rm -f deploy/crds/*.yaml
"$controller_gen" crd:crdVersions=v1 paths=./pkg/apis/... output:crd:dir=deploy/crds
