#!/usr/bin/env bash
# The end-to-end test (make e2e): brings up the real single-node cluster of hack/cluster
# with its ingress, builds the component images and loads them into it, runs the Go suite
# in test/e2e against it, and ALWAYS tears down what it brought up, then prints how long each
# phase took.
#
# The suite gets its surroundings from the environment:
#   KUBECONFIG                      admin kubeconfig of the hosting cluster
#   KUBESTELLAR_E2E_INGRESS_ADDRESS the ingress address (the bridge address by default)
#   KUBESTELLAR_E2E_INGRESS_PORT    its port (8443 by default)
#   KUBESTELLAR_E2E_EXTERNAL_HOST   a host name resolving to that address (kubestellar.localtest)
#   KUBESTELLAR_E2E_EXTERNAL_ENDPOINT  HOST:PORT to pass to `deploy --external-endpoint`
#   KUBESTELLAR_E2E_IMAGE_REGISTRY, KUBESTELLAR_E2E_IMAGE_REPOSITORY, KUBESTELLAR_E2E_IMAGE_TAG
#                                   what the loaded images are called
#   KUBESTELLAR_E2E_KUBECTL_IMAGE   an image with kubectl in /usr/local/bin, for pods
#   KUBESTELLAR_E2E_BIN_DIR         the built commands (kubectl-kubestellar, ...)
#   KUBECTL, HELM                   paths of kubectl and helm
#   KUBESTELLAR_E2E_TIMINGS         a file to which the suite appends "PHASE<TAB>SECONDS"
#                                   lines, printed in the final table
#
# Usage: hack/e2e.sh               (make e2e sets KUBECTL and HELM)
#        hack/e2e.sh --can-run     exit 0 if this machine can run it, else say why
# Settings: E2E_GO_TEST_FLAGS (default "-v -timeout 40m"), E2E_KEEP=true to leave the
# cluster running afterwards, and those of hack/cluster/lib.sh.
set -euo pipefail
# shellcheck source=hack/cluster/lib.sh
source "$(dirname "$0")/cluster/lib.sh"
cd "$REPO_ROOT"

# can_run prints why this machine cannot run the end-to-end test, and fails, if it cannot.
can_run() {
  if [ "$(uname -s)" != Linux ]; then
    echo "not Linux"
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "not root (the cluster needs network, mounts and cgroups)"
    return 1
  fi
  if [ ! -d /sys/fs/cgroup/memory ] && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "no cgroup hierarchy under /sys/fs/cgroup"
    return 1
  fi
  if ! command -v containerd >/dev/null && ! command -v apt-get >/dev/null; then
    echo "containerd is neither installed nor installable (no apt-get)"
    return 1
  fi
  if ! compgen -G 'test/e2e/*_test.go' >/dev/null; then
    echo "there are no end-to-end tests (test/e2e/*_test.go)"
    return 1
  fi
}

if [ "${1:-}" = --can-run ]; then
  can_run
  exit
fi
[ $# -eq 0 ] || die "usage: $0 [--can-run]"
if ! reason=$(can_run); then
  die "this machine cannot run the end-to-end test: $reason"
fi
: "${KUBECTL:?KUBECTL must name kubectl (make e2e sets it)}"
: "${HELM:?HELM must name helm (make e2e sets it; make helm builds it)}"
[ -x "$KUBECTL" ] || die "KUBECTL=$KUBECTL is not an executable"
[ -x "$HELM" ] || die "HELM=$HELM is not an executable; run make helm"
if running kube-apiserver || running containerd; then
  die "a cluster already runs in $CLUSTER_DIR; the end-to-end test brings up and tears down its own (run hack/cluster/down first)"
fi

TIMINGS=$(mktemp)
PHASES=()
RESULTS=()
SECONDS_OF=()

# phase NAME COMMAND... runs COMMAND and records how long it took and whether it passed.
phase() {
  local name=$1 t rc=0
  shift
  t=$(now)
  log "=== $name"
  "$@" || rc=$?
  PHASES+=("$name")
  SECONDS_OF+=("$(since "$t")")
  if [ "$rc" -eq 0 ]; then RESULTS+=(ok); else RESULTS+=("failed ($rc)"); fi
  return "$rc"
}

print_table() {
  local i name secs
  echo
  printf '%-34s %9s  %s\n' PHASE SECONDS RESULT
  for i in "${!PHASES[@]}"; do
    printf '%-34s %9s  %s\n' "${PHASES[$i]}" "${SECONDS_OF[$i]}" "${RESULTS[$i]}"
    # The suite's own phases come right after the run of the suite.
    if [ "${PHASES[$i]}" = "go test ./test/e2e" ] && [ -s "$TIMINGS" ]; then
      while IFS=$'\t' read -r name secs; do
        printf '  %-32s %9s\n' "$name" "$secs"
      done <"$TIMINGS"
    fi
  done
}

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "${E2E_KEEP:-}" = true ]; then
    log "E2E_KEEP=true: the cluster stays up; run hack/cluster/down when done"
  else
    phase "teardown" "$REPO_ROOT/hack/cluster/down" || rc=1
  fi
  print_table
  rm -f "$TIMINGS"
  if [ "$rc" -eq 0 ]; then log "End-to-end test passed"; else log "End-to-end test FAILED"; fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

cluster_up() {
  "$REPO_ROOT/hack/cluster/up"
  "$REPO_ROOT/hack/cluster/ingress-up"
}
images_loaded() {
  make -s e2e-images
  "$REPO_ROOT/hack/cluster/load-image" --all
}

phase "cluster up" cluster_up
phase "images built and loaded" images_loaded

tag=$(make -s print-image-tag)
read -r -a go_test_flags <<<"${E2E_GO_TEST_FLAGS:--v -timeout 40m}"
phase "go test ./test/e2e" env \
  KUBECONFIG="$ADMIN_KUBECONFIG" \
  KUBESTELLAR_E2E_INGRESS_ADDRESS="$INGRESS_ADDRESS" \
  KUBESTELLAR_E2E_INGRESS_PORT="$INGRESS_PORT" \
  KUBESTELLAR_E2E_EXTERNAL_HOST="${INGRESS_HOSTNAMES%% *}" \
  KUBESTELLAR_E2E_EXTERNAL_ENDPOINT="${INGRESS_HOSTNAMES%% *}:$INGRESS_PORT" \
  KUBESTELLAR_E2E_IMAGE_REGISTRY="$(make -s print-registry)" \
  KUBESTELLAR_E2E_IMAGE_REPOSITORY="$(make -s print-repository)" \
  KUBESTELLAR_E2E_IMAGE_TAG="$tag" \
  KUBESTELLAR_E2E_KUBECTL_IMAGE="$(make -s print-registry)/$(make -s print-repository)/kubectl:$tag" \
  KUBESTELLAR_E2E_BIN_DIR="$REPO_ROOT/bin" \
  KUBESTELLAR_E2E_TIMINGS="$TIMINGS" \
  KUBECTL="$KUBECTL" \
  HELM="$HELM" \
  go test -tags e2e ./test/e2e/... "${go_test_flags[@]}"
