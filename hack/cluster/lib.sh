# Shared settings and helpers of the single-node cluster scripts (up, down, status, ...).
# Sourced, not run. Every setting can be overridden from the environment.
# shellcheck shell=bash disable=SC2034

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Where all of the cluster's state lives: PKI, configuration, data, logs, pid files.
CLUSTER_DIR=${CLUSTER_DIR:-$REPO_ROOT/_output/cluster}
CLUSTER_NAME=${CLUSTER_NAME:-kubestellar-local}
CLUSTER_NODE_NAME=${CLUSTER_NODE_NAME:-kubestellar-node}
# The kube-apiserver listens on the bridge gateway address, on this port.
CLUSTER_API_PORT=${CLUSTER_API_PORT:-16443}
# etcd listens on loopback only.
CLUSTER_ETCD_PORT=${CLUSTER_ETCD_PORT:-12379}
CLUSTER_ETCD_PEER_PORT=${CLUSTER_ETCD_PEER_PORT:-12380}
# The pods' subnet sits on a bridge the harness creates; its first address is the gateway,
# the node's address and the apiserver's advertise address. Services get virtual addresses
# from the second subnet, routed to the same bridge so nothing leaves the machine.
CLUSTER_POD_CIDR=${CLUSTER_POD_CIDR:-10.217.0.0/24}
CLUSTER_SERVICE_CIDR=${CLUSTER_SERVICE_CIDR:-10.217.128.0/24}
CLUSTER_BRIDGE=${CLUSTER_BRIDGE:-ksbr0}
# The sandbox ("pause") image, built locally and imported at start.
CLUSTER_PAUSE_IMAGE=${CLUSTER_PAUSE_IMAGE:-localhost/kubestellar/pause:1.0}
# Seconds to wait for each component.
CLUSTER_WAIT=${CLUSTER_WAIT:-120}
# Extra log verbosity of the Kubernetes components.
CLUSTER_LOG_LEVEL=${CLUSTER_LOG_LEVEL:-1}
# The cluster DNS (CoreDNS, beside the cluster) serves this domain on the bridge address,
# port 53; its readiness endpoint is on loopback.
CLUSTER_DOMAIN=${CLUSTER_DOMAIN:-cluster.local}
CLUSTER_DNS_READY_PORT=${CLUSTER_DNS_READY_PORT:-18181}

# The CNI network name; host-local and libcni keep their files under it.
CNI_NETWORK=kubestellar-local
# The iptables chain that keeps pod traffic on the bridge.
ISOLATION_CHAIN=KUBESTELLAR-LOCAL-ISOLATION
# Host sysctls the components may change; `up` records them and `down` puts them back.
SAVED_SYSCTLS=(
  net.ipv4.ip_forward
  kernel.panic
  kernel.panic_on_oops
  vm.overcommit_memory
  vm.panic_on_oom
  kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes
  net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables
)
# Host paths the kubelet and containerd use whatever their configuration says; `up` records
# which ones existed and `down` removes what the cluster created.
HOST_PATHS=(
  /var/lib/kubelet
  /var/lib/kubelet/device-plugins
  /var/log/containers
  /var/log/pods
  /var/lib/cni
  /run/netns
  /run/containerd
  /run/mount
  /opt/containerd
  /etc/cni
)

# Component names in start order; `down` stops them in reverse.
COMPONENTS=(etcd containerd kube-apiserver kube-controller-manager kube-scheduler coredns kubelet kube-proxy)

PKI_DIR=$CLUSTER_DIR/pki
RUN_DIR=$CLUSTER_DIR/run
LOG_DIR=$CLUSTER_DIR/logs
CONF_DIR=$CLUSTER_DIR/config
BIN_DIR=$CLUSTER_DIR/bin
IMAGE_DIR=$CLUSTER_DIR/images
HOST_STATE=$CLUSTER_DIR/host-state
CONTAINERD_DIR=$CLUSTER_DIR/containerd
CONTAINERD_SOCK=$CONTAINERD_DIR/containerd.sock
KUBELET_DIR=$CLUSTER_DIR/kubelet
ADMIN_KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# now prints seconds since the epoch with milliseconds; since START prints the seconds
# elapsed since START, with one decimal.
now() { date +%s.%N | cut -c1-14; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "the cluster needs root (network, mounts, cgroups); run with sudo"
}

# ip_add N CIDR prints the address N above the CIDR's network address (IPv4).
ip_add() {
  local n=$1 cidr=$2 a b c d
  IFS=. read -r a b c d <<<"${cidr%/*}"
  local v=$(((a << 24) + (b << 16) + (c << 8) + d + n))
  printf '%d.%d.%d.%d\n' $(((v >> 24) & 255)) $(((v >> 16) & 255)) $(((v >> 8) & 255)) $((v & 255))
}

NODE_IP=$(ip_add 1 "$CLUSTER_POD_CIDR")
API_SERVICE_IP=$(ip_add 1 "$CLUSTER_SERVICE_CIDR")
API_URL=https://$NODE_IP:$CLUSTER_API_PORT

# Binaries built from Go modules (make clusterbin); KUBE_BIN_DIR and ETCD_BIN_DIR may be set
# to use binaries from elsewhere.
resolve_bins() {
  if [ -z "${KUBE_BIN_DIR:-}" ] || [ -z "${ETCD_BIN_DIR:-}" ]; then
    local assets
    assets=$(make -s -C "$REPO_ROOT" print-cluster-assets)
    KUBE_BIN_DIR=${KUBE_BIN_DIR:-${assets%%:*}}
    ETCD_BIN_DIR=${ETCD_BIN_DIR:-${assets##*:}}
  fi
  KUBECTL=$KUBE_BIN_DIR/kubectl
}

kubectl_admin() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" --cache-dir "$CLUSTER_DIR/kubectl-cache" "$@"; }
ctr_local() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# Process bookkeeping: RUN_DIR/NAME.pid holds "PID STARTTIME" so that a recycled PID is
# never mistaken for one of ours.
# proc_starttime PID prints the process's start time, nothing if it is gone or a zombie.
proc_starttime() { awk '$3 != "Z" { print $22 }' "/proc/$1/stat" 2>/dev/null; }

pid_of() {
  local f=$RUN_DIR/$1.pid pid start
  [ -f "$f" ] || return 1
  read -r pid start <"$f" || return 1
  [ -n "$pid" ] && [ "$(proc_starttime "$pid")" = "$start" ] || return 1
  echo "$pid"
}

running() { pid_of "$1" >/dev/null; }

# start NAME COMMAND... runs COMMAND in its own session, its output in LOG_DIR/NAME.log.
start() {
  local name=$1
  shift
  if running "$name"; then
    log "$name is already running (pid $(pid_of "$name"))"
    return 0
  fi
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) starting: $*" >>"$LOG_DIR/$name.log"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  local pid=$!
  local start_time=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    start_time=$(proc_starttime "$pid") && [ -n "$start_time" ] && break
    sleep 0.05
  done
  [ -n "$start_time" ] || die "$name exited at once; see $LOG_DIR/$name.log"
  echo "$pid $start_time" >"$RUN_DIR/$name.pid"
}

# stop TIMEOUT NAME... sends SIGTERM to each named process, then SIGKILL to those still
# running after TIMEOUT seconds.
stop() {
  local timeout=$1 name pid
  shift
  local -A pids=()
  for name in "$@"; do
    if pid=$(pid_of "$name"); then
      log "Stopping $name (pid $pid)"
      pids[$name]=$pid
      kill -TERM "$pid" 2>/dev/null || true
    else
      rm -f "$RUN_DIR/$name.pid"
    fi
  done
  local deadline=$((SECONDS + timeout))
  for name in "${!pids[@]}"; do
    pid=${pids[$name]}
    while [ -n "$(proc_starttime "$pid")" ] && [ $SECONDS -lt "$deadline" ]; do sleep 0.05; done
    if [ -n "$(proc_starttime "$pid")" ]; then
      log "$name (pid $pid) did not stop in ${timeout}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while [ -n "$(proc_starttime "$pid")" ]; do sleep 0.05; done
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
}

# wait_for WHAT TIMEOUT COMPONENT COMMAND... retries COMMAND until it succeeds, printing a
# progress line every 10 seconds; fails early when COMPONENT (if not "-") has exited.
wait_for() {
  local what=$1 timeout=$2 component=$3
  shift 3
  local started=$SECONDS next=10
  until "$@" >/dev/null 2>&1; do
    if [ "$component" != - ] && ! running "$component"; then
      echo "error: $component exited while waiting for $what; the end of $LOG_DIR/$component.log:" >&2
      tail -n 25 "$LOG_DIR/$component.log" >&2
      return 1
    fi
    if [ $((SECONDS - started)) -ge "$timeout" ]; then
      echo "error: timed out after ${timeout}s waiting for $what" >&2
      [ "$component" = - ] || echo "see $LOG_DIR/$component.log" >&2
      return 1
    fi
    if [ $((SECONDS - started)) -ge $next ]; then
      log "still waiting for $what ($((SECONDS - started))s)"
      next=$((next + 10))
    fi
    sleep 0.2
  done
}

# api_ready checks the apiserver's /readyz with the admin credentials.
api_ready() {
  curl -fsS --max-time 2 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" "$API_URL/readyz" >/dev/null
}

node_ready() {
  [ "$(kubectl_admin get node "$CLUSTER_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# The demo server image (hack/demoserver) used by the checks.
DEMO_IMAGE=${DEMO_IMAGE:-localhost/kubestellar/demoserver:1.0}

# build_demo_image builds hack/demoserver and its image, and imports the image.
build_demo_image() {
  local t
  t=$(now)
  mkdir -p "$BIN_DIR" "$IMAGE_DIR"
  (cd "$REPO_ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$BIN_DIR/" ./hack/demoserver ./hack/imagebuild)
  "$BIN_DIR/imagebuild" --ref "$DEMO_IMAGE" --entrypoint /usr/local/bin/demoserver \
    --file "$BIN_DIR/demoserver:/usr/local/bin/demoserver" --output "$IMAGE_DIR/demoserver.tar" >/dev/null
  ctr_local images import "$IMAGE_DIR/demoserver.tar" >/dev/null
  log "Built and imported $DEMO_IMAGE in $(since "$t")s"
}

# The ingress (hack/cluster/ingress-up): Traefik as a process beside the cluster. Clients
# connect to INGRESS_ADDRESS:INGRESS_PORT with the host name they want as TLS SNI. The
# bridge address is reachable both from the host and from pods.
INGRESS_ADDRESS=${INGRESS_ADDRESS:-$NODE_IP}
INGRESS_PORT=${INGRESS_PORT:-8443}
# Host names that resolve to INGRESS_ADDRESS while the ingress runs: on the host through
# one marked line in /etc/hosts, in pods through the cluster DNS.
INGRESS_HOSTNAMES=${INGRESS_HOSTNAMES:-kubestellar.localtest}
INGRESS_HOSTS_FILE=$CONF_DIR/ingress.hosts
# The line ingress-up adds to /etc/hosts, and the one ingress-down and down remove.
HOSTS_MARK="# added by hack/cluster/ingress-up for $CLUSTER_DIR"
etc_hosts_line() { printf '%s %s %s\n' "$INGRESS_ADDRESS" "$INGRESS_HOSTNAMES" "$HOSTS_MARK"; }
# Traefik's own API, dashboard and /ping.
INGRESS_ADMIN_PORT=${INGRESS_ADMIN_PORT:-18080}
INGRESS_NAMESPACE=${INGRESS_NAMESPACE:-ingress}

# fresh_namespace NS deletes namespace NS if an earlier run left it, and waits until it is
# gone, so that the objects of a check are created afresh.
fresh_namespace() {
  if kubectl_admin get namespace "$1" >/dev/null 2>&1; then
    log "Deleting namespace $1, left by an earlier run"
    kubectl_admin delete namespace "$1" --ignore-not-found --timeout="${CLUSTER_WAIT}s" >/dev/null
  fi
}

# hosts_add appends etc_hosts_line to /etc/hosts unless it is there. The file is rewritten
# in place, never replaced, since it may be a bind mount.
hosts_add() {
  local line
  line=$(etc_hosts_line)
  grep -qxF -- "$line" /etc/hosts && return 0
  hosts_remove
  if [ -s /etc/hosts ] && [ "$(tail -c1 /etc/hosts | od -An -c | tr -d ' ')" != '\n' ]; then
    echo >>/etc/hosts
  fi
  printf '%s\n' "$line" >>/etc/hosts
}

# hosts_remove removes from /etc/hosts the lines hosts_add added for this CLUSTER_DIR (those
# ending with HOSTS_MARK) and nothing else.
hosts_remove() {
  [ -f /etc/hosts ] && grep -qF -- "$HOSTS_MARK" /etc/hosts || return 0
  local kept
  kept=$(awk -v mark=" $HOSTS_MARK" 'length($0) < length(mark) || substr($0, length($0) - length(mark) + 1) != mark' /etc/hosts)
  printf '%s\n' "$kept" >/etc/hosts
}

# coredns_ready checks the cluster DNS's readiness endpoint (ready once its kubernetes
# plugin has synced with the apiserver).
coredns_ready() { curl -fsS --max-time 2 "http://127.0.0.1:$CLUSTER_DNS_READY_PORT/ready" >/dev/null; }

# port_taken ADDRESS PORT [PROTO] tells whether something listens on ADDRESS:PORT, directly
# or on every address (PROTO t for TCP, the default, u for UDP).
port_taken() {
  local addr=$1 port=$2 proto=${3:-t}
  ss -Hl"${proto}"n "sport = :$port" | awk '{ print $4 }' |
    grep -qxE "(${addr//./\\.}|0\\.0\\.0\\.0|\\*|\\[::\\]):$port"
}
