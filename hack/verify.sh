#!/usr/bin/env bash
# Fails when generated files are stale, Go code is not gofmt-ed, or a go.mod is not tidy.
# Generation runs on a copy of the sources, so uncommitted work is compared as it stands.
# Usage: hack/verify.sh CONTROLLER_GEN
set -euo pipefail

controller_gen=$1
failed=0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git ls-files -co --exclude-standard -z | while IFS= read -r -d '' f; do
  [ -e "$f" ] && cp --parents -- "$f" "$tmp/"
done
hack/generate.sh "$controller_gen" "$tmp"
generated=$(cd "$tmp" && find deploy/crds pkg/apis examples/podghost/api examples/podghost/config -type f \( -name '*.yaml' -o -name 'zz_generated.*.go' \) | sort)
stale=()
for f in $generated; do
  cmp -s "$f" "$tmp/$f" || stale+=("$f")
done
for f in deploy/crds/*.yaml; do
  [ -e "$tmp/$f" ] || stale+=("$f (no longer generated)")
done
if [ ${#stale[@]} -gt 0 ]; then
  echo "Generated files are stale; run 'make generate' and commit the result:" >&2
  printf '  %s\n' "${stale[@]}" >&2
  failed=1
fi

unformatted=$(git ls-files -co --exclude-standard -z '*.go' | xargs -0 -r gofmt -l)
if [ -n "$unformatted" ]; then
  echo "Go files not formatted; run 'gofmt -w' on:" >&2
  while IFS= read -r f; do echo "  $f"; done <<<"$unformatted" >&2
  failed=1
fi

for mod in . hack/tools hack/traefik hack/coredns; do
  if ! (cd "$mod" && go mod tidy -diff >/dev/null); then
    echo "$mod/go.mod is not tidy; run 'go mod tidy' in $mod" >&2
    failed=1
  fi
done

# Every Kubernetes staging module must be on the minor of the kube-apiserver that is built.
kube_minor=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { split($2, v, "."); print v[2]; exit }' hack/tools/go.mod)
while read -r path version; do
  minor=$(echo "$version" | cut -d. -f2)
  if [ "$minor" != "$kube_minor" ]; then
    echo "$path is at $version, but the Kubernetes minor is 1.$kube_minor; pin it to v0.$kube_minor.x in go.mod" >&2
    failed=1
  fi
done < <(go list -m -f '{{.Path}} {{.Version}}' all | grep -E '^k8s\.io/(api|apimachinery|client-go|apiextensions-apiserver|apiserver|component-base|cli-runtime|kubectl) ')

exit $failed
