#!/usr/bin/env bash
# Installs a KubeStellar release and gets its core running: either as bare processes on this
# machine (the default), or deployed into the Kubernetes cluster the current kubeconfig reaches
# (with --endpoint-address or --openshift true). Run it again to resume or restart: every step
# is idempotent. See --help.
set -euo pipefail

# The release this copy of the script belongs to; `make dist` stamps it. A copy taken from the
# source tree has none, so it installs the newest release.
release_version=

# Where releases are published: URL/download/VERSION/ASSET is a release's archive, and
# URL/latest redirects to URL/tag/VERSION of the newest regular release (GitHub's layout).
releases_url=${KUBESTELLAR_RELEASES_URL:-https://github.com/kubestellar/kubestellar/releases}

program=${0##*/}

usage() {
  cat <<USAGE
Usage: $program [flags] [-- extra flags for 'kubestellar start' or 'kubectl kubestellar deploy']

Installs the KubeStellar release archive into DIR/kubestellar (bin/, charts/, README.md;
unless kubestellar, kubectl-kubestellar and kubestellar-space-server are already on PATH),
then either
  - starts the core as bare processes on this machine ('kubestellar start'; state in
    DIR/.kubestellar, logs in DIR/kubestellar-logs), or
  - with --endpoint-address (or --external-endpoint) or --openshift true, deploys it into the
    cluster the current kubeconfig reaches ('kubectl kubestellar deploy') and fetches its
    external kubeconfig into DIR/kubestellar.kubeconfig,
and prints the export lines that make a shell use it.

Flags:
  --kubestellar-version VERSION  release to install, such as v0.21.0, or latest: the newest regular
                                 release, found by following $releases_url/latest
                                 (default: $(if [ -n "$release_version" ]; then echo "$release_version, the release of this script"; else echo "latest"; fi))
  --archive URL|FILE             the release archive (default: the release asset,
                                 $releases_url/download/VERSION/kubestellar_VERSION_OS_ARCH.tar.gz)
  --os OS                        linux or darwin (default: this machine's)
  --arch ARCH                    amd64, arm64, ppc64le or s390x (default: this machine's)
  --ensure-folder DIR            parent folder of the installation, created if missing (default: .)
  --openshift true|false         deploy into an OpenShift cluster, exposed by a Route (default: false)
  --endpoint-address HOST:PORT   deploy into the current cluster, reachable from outside at HOST:PORT
  --external-endpoint HOST:PORT  the same as --endpoint-address (the name 'kubectl kubestellar deploy' uses)
  --host-ns NAMESPACE            namespace to deploy into (default: kubestellar)
  --kcp-version VERSION          accepted and ignored: this KubeStellar runs no kcp (its space
                                 server is part of the KubeStellar release)
  --bind-address IP              bare processes: IP address the space server listens on (default: every address)
  --secure-port PORT             bare processes: port of the space server (default: 6443)
  -V, --verbose                  more detail, here and in the processes' logs
  -X                             print each command as it runs (set -x)
  -h, --help                     show this help

Environment:
  KUBESTELLAR_RELEASES_URL       where releases are published (default:
                                 https://github.com/kubestellar/kubestellar/releases)

Examples:
  $program --kubestellar-version latest
  $program --archive kubestellar_v0.21.0_linux_amd64.tar.gz --ensure-folder ~/ks
  $program --endpoint-address kubestellar.example.com:443 --host-ns kubestellar
  $program --openshift true
USAGE
}

# fail prints an error and exits.
fail() {
  echo "$program: $*" >&2
  exit 1
}

# usage_error is fail for a wrong flag value: it points to --help.
usage_error() {
  echo "$program: $*" >&2
  echo "Run '$program --help' for the flags." >&2
  exit 2
}

# flag_error is fail for a flag that is unknown or lacks its value: it shows the usage.
flag_error() {
  echo "$program: $*" >&2
  usage >&2
  echo "$program: $*" >&2
  exit 2
}

say() { echo "$*" >&2; }
detail() { if [ "$verbose" = true ]; then echo "$*" >&2; fi; }

version=""
archive=""
os=""
arch=""
folder=""
openshift=false
endpoint=""
kcp_version=""
host_ns=kubestellar
bind_address=""
secure_port=6443
verbose=false
extra=()

# need_value checks that flag $1 got a value $3 ($2 is the number of arguments left); no value
# starts with "-", so "--os --arch arm64" is a missing value, not the OS "--arch".
need_value() {
  if [ "$2" -lt 2 ] || [[ $3 == -* ]]; then
    flag_error "$1 needs a value"
  fi
}

while [ $# -gt 0 ]; do
  flag=$1
  value=""
  case $flag in
    --*=*)
      value=${flag#*=}
      flag=${flag%%=*}
      set -- "$flag" "$value" "${@:2}"
      ;;
  esac
  case $flag in
    --kubestellar-version | --archive | --os | --arch | --ensure-folder | --openshift | --endpoint-address | --external-endpoint | --host-ns | --bind-address | --secure-port | --kcp-version)
      need_value "$flag" $# "${2-}"
      value=$2
      shift 2
      case $flag in
        --kubestellar-version) version=$value ;;
        --archive) archive=$value ;;
        --os) os=$value ;;
        --arch) arch=$value ;;
        --ensure-folder) folder=$value ;;
        --openshift) openshift=$value ;;
        --endpoint-address | --external-endpoint)
          if [ -n "$endpoint" ] && [ "$endpoint" != "$value" ]; then
            usage_error "--endpoint-address and --external-endpoint name the same setting; give one value, not '$endpoint' and '$value'"
          fi
          endpoint=$value
          ;;
        --kcp-version) kcp_version=$value ;;
        --host-ns) host_ns=$value ;;
        --bind-address) bind_address=$value ;;
        --secure-port) secure_port=$value ;;
      esac
      ;;
    -V | --verbose)
      verbose=true
      shift
      ;;
    -X)
      set -x
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    --)
      shift
      extra=("$@")
      break
      ;;
    *)
      flag_error "unknown flag: $flag"
      ;;
  esac
done

# Defaults and checks of the flags' values.
if [ -z "$os" ]; then
  os=$(uname -s | tr '[:upper:]' '[:lower:]')
fi
case $os in
  linux | darwin) ;;
  *) usage_error "--os $os is not supported; KubeStellar is released for linux and darwin" ;;
esac
if [ -z "$arch" ]; then
  arch=$(uname -m)
  case $arch in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
  esac
fi
case $arch in
  amd64 | arm64 | ppc64le | s390x) ;;
  *) usage_error "--arch $arch is not supported; KubeStellar is released for amd64, arm64, ppc64le and s390x" ;;
esac
case $openshift in
  true | false) ;;
  *) usage_error "--openshift must be true or false, not '$openshift'" ;;
esac
if [ -n "$endpoint" ] && ! [[ $endpoint =~ ^[^:/[:space:]]+:[0-9]+$ ]]; then
  usage_error "--endpoint-address must be HOST:PORT, such as kubestellar.example.com:443, not '$endpoint'"
fi
if ! [[ $host_ns =~ ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$ ]]; then
  usage_error "--host-ns must be a namespace name (lower-case letters, digits and '-'), not '$host_ns'"
fi
if ! [[ $secure_port =~ ^[0-9]+$ ]] || [ "$secure_port" -lt 1 ] || [ "$secure_port" -gt 65535 ]; then
  usage_error "--secure-port must be a port number from 1 to 65535, not '$secure_port'"
fi
if [ -n "$bind_address" ] && ! [[ $bind_address =~ ^[0-9.]+$|: ]]; then
  usage_error "--bind-address must be an IP address, not '$bind_address'"
fi

if [ -n "$kcp_version" ]; then
  say "Note: --kcp-version $kcp_version is ignored: this KubeStellar runs no kcp; its space server comes in the KubeStellar release."
fi

# An archive named as a release asset tells the version and platform it holds.
asset_re='^kubestellar_(v[^_]+)_([a-z0-9]+)_([a-z0-9]+)\.tar\.gz$'
if [ -n "$archive" ] && [[ ${archive##*/} =~ $asset_re ]]; then
  if [ -z "$version" ] || [ "$version" = latest ]; then
    version=${BASH_REMATCH[1]}
  elif [ "$version" != "${BASH_REMATCH[1]}" ]; then
    usage_error "--archive ${archive##*/} holds release ${BASH_REMATCH[1]}, not --kubestellar-version $version"
  fi
  if [ "$os/$arch" != "${BASH_REMATCH[2]}/${BASH_REMATCH[3]}" ]; then
    usage_error "--archive ${archive##*/} is for ${BASH_REMATCH[2]}/${BASH_REMATCH[3]}, not $os/$arch (see --os and --arch)"
  fi
fi
version=${version:-${release_version:-latest}}
if [ "$version" != latest ] && ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  usage_error "--kubestellar-version must be latest or a release version such as v0.21.0, not '$version'"
fi
case $archive in
  "" | http://* | https://* | file://*) ;;
  *) [ -f "$archive" ] || usage_error "--archive $archive: no such file" ;;
esac

# The binaries: those on PATH when all are there, else the release's, unpacked once.
commands=(kubestellar kubectl-kubestellar kubestellar-space-server)
on_path=true
for c in "${commands[@]}"; do
  command -v "$c" >/dev/null || on_path=false
done

# latest_release follows $releases_url/latest, which redirects to the page of the newest
# regular release (drafts and pre-releases are never "latest"), and prints its version.
latest_release() {
  command -v curl >/dev/null || fail "curl is needed to find the newest release; install it, or pass --kubestellar-version VERSION and --archive FILE"
  local url found
  url=$(curl --fail --location --silent --show-error --output /dev/null --write-out '%{url_effective}' -- "$releases_url/latest") ||
    fail "could not find the newest release at $releases_url/latest; pass --kubestellar-version VERSION (such as v0.21.0) or --archive FILE"
  found=${url%/}
  found=${found##*/}
  if [[ $url != */tag/* ]] || ! [[ $found =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]]; then
    fail "$releases_url/latest led to $url, not to a release; there may be no release yet: pass --kubestellar-version VERSION or --archive FILE"
  fi
  echo "$found"
}

# What is installed: a release, or (an archive named otherwise) whatever that archive holds.
if [ "$on_path" = false ] && [ "$version" = latest ] && [ -z "$archive" ]; then
  version=$(latest_release)
  say "The newest KubeStellar release is $version"
fi
if [ "$version" = latest ]; then
  what="KubeStellar"
  identity="archive $archive $os/$arch"
else
  what="KubeStellar $version"
  identity="$version $os/$arch"
fi
asset=kubestellar_${version}_${os}_${arch}.tar.gz
archive=${archive:-$releases_url/download/$version/$asset}

folder=${folder:-.}
mkdir -p -- "$folder" || fail "--ensure-folder $folder cannot be created"
folder=$(cd -- "$folder" && pwd)
install_dir=$folder/kubestellar

if [ "$on_path" = true ]; then
  bin_dir=$(cd -- "$(dirname -- "$(command -v kubestellar)")" && pwd)
  say "Using the KubeStellar commands on PATH, in $bin_dir"
  if [ "$version" = latest ]; then
    what="KubeStellar $(kubestellar-release 2>/dev/null || echo "from $bin_dir")"
  fi
else
  bin_dir=$install_dir/bin
  marker=$install_dir/.kubestellar-release
  if [ -f "$marker" ] && [ "$(cat -- "$marker")" = "$identity" ]; then
    say "$what for $os/$arch is already unpacked in $install_dir"
  else
    mkdir -p -- "$install_dir" || fail "$install_dir cannot be created"
    download=""
    trap 'if [ -n "$download" ]; then rm -f -- "$download"; fi' EXIT
    case $archive in
      http://* | https://* | file://*)
        command -v curl >/dev/null || fail "curl is needed to download $archive; install it, or pass --archive FILE"
        download=$(mktemp "$folder/.download.XXXXXX")
        say "Downloading $archive"
        curl_flags=(--fail --location --show-error --silent)
        if [ "$verbose" = true ]; then curl_flags=(--fail --location --show-error --progress-bar); fi
        curl "${curl_flags[@]}" --output "$download" -- "$archive" ||
          fail "downloading $archive failed; check --kubestellar-version, --os and --arch, or pass --archive FILE with a release archive (make dist builds them)"
        file=$download
        ;;
      *)
        file=$archive
        ;;
    esac
    say "Unpacking $archive into $install_dir"
    tar_flags=(-xzf)
    if [ "$verbose" = true ]; then tar_flags=(-xvzf); fi
    tar "${tar_flags[@]}" "$file" -C "$install_dir" >&2 || fail "$archive is not a KubeStellar release archive (tar could not unpack it)"
    for c in "${commands[@]}"; do
      [ -x "$bin_dir/$c" ] || fail "$archive is not a KubeStellar release archive: it has no bin/$c"
    done
    echo "$identity" >"$marker"
  fi
fi
export PATH="$bin_dir:$PATH"

vflags=()
if [ "$verbose" = true ]; then vflags+=(-V); fi
if [[ $- == *x* ]]; then vflags+=(-X); fi

if [ -n "$endpoint" ] || [ "$openshift" = true ]; then
  # Deploy into the hosting cluster. kubectl-kubestellar is what `kubectl kubestellar` runs.
  deploy=(kubectl-kubestellar deploy -n "$host_ns")
  if [ -n "$endpoint" ]; then deploy+=(--external-endpoint "$endpoint"); fi
  if [ "$openshift" = true ]; then deploy+=(--openshift=true); fi
  say "Deploying $what into namespace $host_ns of the current cluster"
  detail "+ kubectl ${deploy[*]:1} ${extra[*]+${extra[*]}}"
  "${deploy[@]}" ${extra[@]+"${extra[@]}"} >&2 || fail "kubectl kubestellar deploy failed; see above"
  kubeconfig=$folder/kubestellar.kubeconfig
  # The KubeStellar core writes the external kubeconfig once it is up; wait for it.
  deadline=$((SECONDS + 300))
  until err=$(kubectl-kubestellar get-external-kubeconfig -n "$host_ns" -o "$kubeconfig" 2>&1); do
    if [ $SECONDS -ge $deadline ]; then
      fail "the external kubeconfig did not appear in 5 minutes: $err"
    fi
    detail "Waiting for the external kubeconfig: $err"
    sleep 5
  done
else
  say "Starting $what as processes on this machine, state and logs in $folder"
  start=(kubestellar start --root-dir "$folder/.kubestellar" --log-folder "$folder/kubestellar-logs" --secure-port "$secure_port")
  if [ -n "$bind_address" ]; then start+=(--bind-address "$bind_address"); fi
  (cd -- "$folder" && "${start[@]}" ${vflags[@]+"${vflags[@]}"} ${extra[@]+"${extra[@]}"}) >&2 ||
    fail "kubestellar start failed; see above and the logs in $folder/kubestellar-logs"
  kubeconfig=$folder/.kubestellar/admin.kubeconfig
fi

say "KubeStellar is ready. To use it from another shell:"
echo "export PATH=\"$bin_dir:\$PATH\""
echo "export KUBECONFIG=\"$kubeconfig\""
