#!/usr/bin/env bash
# Regenerates the deep-copy code and the CRD manifests of the module rooted at ROOT: those of
# the KubeStellar API (pkg/apis, into deploy/crds) and of the podghost example's API
# (examples/podghost/api, into examples/podghost/config/crd.yaml, the file its README creates).
# Usage: hack/generate.sh CONTROLLER_GEN [ROOT]
set -euo pipefail

controller_gen=$(realpath "$1")
cd "${2:-.}"

"$controller_gen" object paths=./pkg/apis/...
rm -f deploy/crds/*.yaml
"$controller_gen" crd:crdVersions=v1 paths=./pkg/apis/... output:crd:dir=deploy/crds

"$controller_gen" object paths=./examples/podghost/api/...
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$controller_gen" crd:crdVersions=v1 paths=./examples/podghost/api/... output:crd:dir="$out"
mv "$out/example.kubestellar.io_podghosts.yaml" examples/podghost/config/crd.yaml
