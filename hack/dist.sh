#!/usr/bin/env bash
# Builds the release archives. For each OS/ARCH, kubestellar_<version>_<os>_<arch>.tar.gz holds
# bin/ (every command under cmd/, plus the kube-apiserver and kube-controller-manager the space
# server runs beside itself, and the kubectl of the same Kubernetes release, which the
# documented commands type), charts/ (chart versions set to the release) and README.md.
# Beside them: bootstrap-kubestellar.sh, stamped with the release version, and SHA256SUMS.
# Archives are reproducible in file order, owners, modes and times (the last commit's time).
# Usage: hack/dist.sh OUTPUT_DIR OS/ARCH...
# Environment (set by the Makefile): VERSION, LDFLAGS, KUBE_LDFLAGS, KUBE_BIN_DIR.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "Usage: $0 OUTPUT_DIR OS/ARCH..." >&2
  exit 1
fi
out=$1
shift
: "${VERSION:?VERSION must be set}" "${LDFLAGS:?LDFLAGS must be set}"
: "${KUBE_LDFLAGS:?KUBE_LDFLAGS must be set}" "${KUBE_BIN_DIR:?KUBE_BIN_DIR must be set}"

host=$(go env GOOS)/$(go env GOARCH)
supported=$(go tool dist list)
for platform in "$@"; do
  if ! grep -qx -- "$platform" <<<"$supported"; then
    echo "DIST_PLATFORMS: $platform is not an OS/ARCH pair Go builds for, such as linux/amd64 (see 'go tool dist list')" >&2
    exit 1
  fi
done
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"
rm -f "$out"/kubestellar_*.tar.gz "$out/SHA256SUMS" "$out/bootstrap-kubestellar.sh"

# kube_binary makes sure $dir/$name is built for $os/$arch. The host's copies are the ones
# `make build` and the tests use; other platforms get their own subdirectory of the cache.
kube_binary() {
  local name=$1 os=$2 arch=$3 dir=$4
  [ -x "$dir/$name" ] && return 0
  echo "Building $name for $os/$arch from k8s.io/kubernetes (first time: several minutes)"
  mkdir -p "$dir"
  (cd hack/tools && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$KUBE_LDFLAGS" -o "$dir/$name.tmp" "k8s.io/kubernetes/cmd/$name")
  mv "$dir/$name.tmp" "$dir/$name"
}

for platform in "$@"; do
  os=${platform%/*}
  arch=${platform#*/}
  name=kubestellar_${VERSION}_${os}_${arch}
  root=$stage/$name
  mkdir -p "$root/bin"

  echo "Building the KubeStellar commands for $platform"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$LDFLAGS" -o "$root/bin/" ./cmd/...
  kube_dir=$KUBE_BIN_DIR
  [ "$platform" = "$host" ] || kube_dir=$KUBE_BIN_DIR/${os}_${arch}
  for b in kube-apiserver kube-controller-manager kubectl; do
    kube_binary "$b" "$os" "$arch" "$kube_dir"
    cp "$kube_dir/$b" "$root/bin/$b"
  done

  # The chart files as they stand in the work tree (Go sources that embed them stay out).
  git ls-files -co --exclude-standard -z -- charts | while IFS= read -r -d '' f; do
    case $f in *.go) continue ;; esac
    [ -e "$f" ] && cp --parents -- "$f" "$root/"
  done
  for chart in "$root"/charts/*/Chart.yaml; do
    [ -e "$chart" ] || continue
    sed -i -e "s/^version:.*/version: ${VERSION#v}/" -e "s/^appVersion:.*/appVersion: \"$VERSION\"/" "$chart"
  done
  cp README.md "$root/"

  (cd "$root" && tar --create --sort=name --format=gnu --owner=0 --group=0 --numeric-owner \
    --mode='u+rwX,go+rX,go-w' --mtime="@$epoch" --file=- -- *) | gzip -n >"$out/$name.tar.gz"
  echo "Wrote $out/$name.tar.gz ($(du -h "$out/$name.tar.gz" | cut -f1))"
done

sed -e "s/^release_version=.*/release_version=$VERSION/" bootstrap/bootstrap-kubestellar.sh >"$out/bootstrap-kubestellar.sh"
chmod 0755 "$out/bootstrap-kubestellar.sh"
touch -d "@$epoch" "$out/bootstrap-kubestellar.sh"
(cd "$out" && sha256sum -- kubestellar_*.tar.gz bootstrap-kubestellar.sh >SHA256SUMS)
echo "Wrote $out/SHA256SUMS:"
sed 's/^/  /' "$out/SHA256SUMS"
