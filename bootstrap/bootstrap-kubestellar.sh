#!/usr/bin/env bash
# Installs a KubeStellar release and gets its core running: either as bare processes on this
# machine (the default), or deployed into the Kubernetes cluster the current kubeconfig reaches
# (with --endpoint-address or --openshift true). Run it again to resume or restart: every step
# is idempotent. See --help.
set -euo pipefail

# The release this copy of the script belongs to; `make dist` stamps it.
release_version=v0.0.0-dev

program=${0##*/}

usage() {
  cat <<USAGE
Usage: $program [flags] [-- extra flags for 'kubestellar start' or 'kubectl kubestellar deploy']

Installs the KubeStellar release archive into a folder (unless kubestellar,
kubectl-kubestellar and kubestellar-space-server are already on PATH), then either
  - starts the core as bare processes on this machine ('kubestellar start'), or
  - with --endpoint-address or --openshift true, deploys it into the cluster the current
    kubeconfig reaches ('kubectl kubestellar deploy') and fetches its external kubeconfig,
and prints the export lines that make a shell use it.

Flags:
  --kubestellar-version VERSION  release to install (default: $release_version, the release of this script)
  --archive URL|FILE             the release archive (default: the GitHub release asset,
                                 https://github.com/kubestellar/kubestellar/releases/download/VERSION/kubestellar_VERSION_OS_ARCH.tar.gz)
  --os OS                        linux or darwin (default: this machine's)
  --arch ARCH                    amd64, arm64, ppc64le or s390x (default: this machine's)
  --ensure-folder DIR            where to unpack, and where bare processes keep their state
                                 and logs (default: ./kubestellar-VERSION)
  --openshift true|false         deploy into an OpenShift cluster, exposed by a Route (default: false)
  --endpoint-address HOST:PORT   deploy into the current cluster, reachable from outside at HOST:PORT
  --host-ns NAMESPACE            namespace to deploy into (default: kubestellar)
  --bind-address IP              bare processes: IP address the space server listens on (default: every address)
  --secure-port PORT             bare processes: port of the space server (default: 6443)
  -V, --verbose                  more detail, here and in the processes' logs
  -X                             print each command as it runs (set -x)
  -h, --help                     show this help

Examples:
  $program --archive kubestellar_${release_version}_linux_amd64.tar.gz
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
    --kubestellar-version | --archive | --os | --arch | --ensure-folder | --openshift | --endpoint-address | --host-ns | --bind-address | --secure-port)
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
        --endpoint-address) endpoint=$value ;;
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

# An archive named as a release asset tells the version and platform it holds.
asset_re='^kubestellar_(v[^_]+)_([a-z0-9]+)_([a-z0-9]+)\.tar\.gz$'
if [ -n "$archive" ] && [[ ${archive##*/} =~ $asset_re ]]; then
  if [ -z "$version" ]; then
    version=${BASH_REMATCH[1]}
  elif [ "$version" != "${BASH_REMATCH[1]}" ]; then
    usage_error "--archive ${archive##*/} holds release ${BASH_REMATCH[1]}, not --kubestellar-version $version"
  fi
  if [ "$os/$arch" != "${BASH_REMATCH[2]}/${BASH_REMATCH[3]}" ]; then
    usage_error "--archive ${archive##*/} is for ${BASH_REMATCH[2]}/${BASH_REMATCH[3]}, not $os/$arch (see --os and --arch)"
  fi
fi
version=${version:-$release_version}
if ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  usage_error "--kubestellar-version must be a release version such as v0.21.0, not '$version'"
fi
asset=kubestellar_${version}_${os}_${arch}.tar.gz
archive=${archive:-https://github.com/kubestellar/kubestellar/releases/download/$version/$asset}
folder=${folder:-./kubestellar-$version}
case $archive in
  http://* | https://* | file://*) ;;
  *) [ -f "$archive" ] || usage_error "--archive $archive: no such file" ;;
esac

mkdir -p -- "$folder" || fail "--ensure-folder $folder cannot be created"
folder=$(cd -- "$folder" && pwd)

# The binaries: those on PATH when all are there, else the release's, unpacked once.
commands=(kubestellar kubectl-kubestellar kubestellar-space-server)
bin_dir=""
on_path=true
for c in "${commands[@]}"; do
  command -v "$c" >/dev/null || on_path=false
done
if [ "$on_path" = true ]; then
  bin_dir=$(cd -- "$(dirname -- "$(command -v kubestellar)")" && pwd)
  say "Using the KubeStellar commands on PATH, in $bin_dir"
else
  bin_dir=$folder/bin
  marker=$folder/.kubestellar-release
  if [ -f "$marker" ] && [ "$(cat -- "$marker")" = "$version $os/$arch" ]; then
    say "KubeStellar $version for $os/$arch is already unpacked in $folder"
  else
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
    say "Unpacking $archive into $folder"
    tar_flags=(-xzf)
    if [ "$verbose" = true ]; then tar_flags=(-xvzf); fi
    tar "${tar_flags[@]}" "$file" -C "$folder" >&2 || fail "$archive is not a KubeStellar release archive (tar could not unpack it)"
    for c in "${commands[@]}"; do
      [ -x "$bin_dir/$c" ] || fail "$archive is not a KubeStellar release archive: it has no bin/$c"
    done
    echo "$version $os/$arch" >"$marker"
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
  say "Deploying KubeStellar $version into namespace $host_ns of the current cluster"
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
  say "Starting KubeStellar $version as processes on this machine, state and logs in $folder"
  start=(kubestellar start --root-dir "$folder/.kubestellar" --log-folder "$folder/kubestellar-logs" --secure-port "$secure_port")
  if [ -n "$bind_address" ]; then start+=(--bind-address "$bind_address"); fi
  (cd -- "$folder" && "${start[@]}" ${vflags[@]+"${vflags[@]}"} ${extra[@]+"${extra[@]}"}) >&2 ||
    fail "kubestellar start failed; see above and the logs in $folder/kubestellar-logs"
  kubeconfig=$folder/.kubestellar/admin.kubeconfig
fi

say "KubeStellar is ready. To use it from another shell:"
echo "export PATH=\"$bin_dir:\$PATH\""
echo "export KUBECONFIG=\"$kubeconfig\""
