#!/usr/bin/env bash
# The two-cluster example (florin and guilder) as bare processes: the KubeStellar core from
# `kubestellar start`, two workload execution clusters that are spaces of a second space
# server (each a real kube-apiserver), and a syncer per cluster as a local process. It prints
# each step and stops everything at the end, unless KEEP=true.
# Needs bin/ built (make build) and KUBECTL pointing at a kubectl.
set -euo pipefail
cd "$(dirname "$0")/.."

work=${QUICKSTART_DIR:-_output/quickstart}
ks_port=${KS_PORT:-17443}
wec_port=${WEC_PORT:-17444}
keep=${KEEP:-false}
kubectl=${KUBECTL:?set KUBECTL to a kubectl binary}
bin=$PWD/bin
PATH=$bin:$PATH

step() { printf '\n=== %s\n' "$*"; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  for ((i = 0; i < limit; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "Timed out after ${limit}s waiting for: $what" >&2
  return 1
}

syncer_pids=()
wec_pid=""
cleanup() {
  local rc=$?
  if [ "$keep" = true ] && [ $rc -eq 0 ]; then
    echo "Left running (KEEP=true): see $work; stop with: kill ${syncer_pids[*]} $wec_pid; bin/kubestellar stop --log-folder $work/logs"
    return
  fi
  step "Stop everything"
  for pid in "${syncer_pids[@]}" $wec_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in "${syncer_pids[@]}" $wec_pid; do while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done; done
  kubestellar stop --log-folder "$work/logs" || true
  if [ $rc -ne 0 ]; then
    echo "The quickstart failed; logs are in $work/logs" >&2
  fi
}
trap cleanup EXIT

rm -rf "$work"
mkdir -p "$work/logs"

step "Start the KubeStellar core (space server, mailbox controller, where-resolver, placement translator)"
kubestellar start --root-dir "$work/core" --log-folder "$work/logs" --secure-port "$ks_port"
cp "$work/core/admin.kubeconfig" "$work/ks.kubeconfig"
export KUBECONFIG=$PWD/$work/ks.kubeconfig

step "Start two workload execution clusters, florin and guilder"
kubestellar-space-server --root-dir "$work/wecs" --secure-port "$wec_port" >"$work/logs/wecs.log" 2>&1 &
wec_pid=$!
wait_for 120 "the clusters' server" "$kubectl" --kubeconfig "$work/wecs/admin.kubeconfig" get --raw /readyz
for wec in florin guilder; do
  "$kubectl" --kubeconfig "$work/wecs/admin.kubeconfig" apply -f - <<YAML
apiVersion: space.kubestellar.io/v1alpha1
kind: Space
metadata: {name: $wec}
YAML
done
for wec in florin guilder; do
  "$kubectl" --kubeconfig "$work/wecs/admin.kubeconfig" wait --for=jsonpath='{.status.phase}'=Ready "space/$wec" --timeout=120s
  cp "$work/wecs/admin.kubeconfig" "$work/$wec.kubeconfig"
  "$kubectl" --kubeconfig "$work/$wec.kubeconfig" config set-cluster root --server "https://localhost:$wec_port/clusters/root:$wec" >/dev/null
done

step "Register the clusters in the inventory (root:imw1) and prepare their syncers"
declare -A syncer_ns
for spec in "florin env=prod region=eu" "guilder env=prod extended=yes region=us"; do
  read -r wec labels <<<"$spec"
  # shellcheck disable=SC2086
  out=$(kubectl-kubestellar prep-for-cluster --imw root:imw1 "$wec" $labels -o "$work/$wec-syncer.yaml")
  echo "$out"
  syncer_ns[$wec]=$(sed -n 's/.*get deployment -n \([^ ]*\) .*/\1/p' <<<"$out")
done

step "Apply the syncer manifests to the clusters, and run each syncer as a local process"
for wec in florin guilder; do
  "$kubectl" --kubeconfig "$work/$wec.kubeconfig" apply -f "$work/$wec-syncer.yaml"
  "$kubectl" --kubeconfig "$work/$wec.kubeconfig" get secret -n "${syncer_ns[$wec]}" "kubestellar-syncer-$wec" \
    -o jsonpath='{.data.kubeconfig}' | base64 -d >"$work/$wec-mailbox.kubeconfig"
  kubestellar-syncer --from-kubeconfig "$work/$wec-mailbox.kubeconfig" --to-kubeconfig "$work/$wec.kubeconfig" \
    --sync-target-name "$wec" -v=2 >"$work/logs/syncer-$wec.log" 2>&1 &
  syncer_pids+=($!)
  echo "syncer for $wec: pid $!, log $work/logs/syncer-$wec.log"
done

step "Put the workload into the workload management space root:wmw1"
kubectl-kubestellar ws root:wmw1
"$kubectl" apply -f - <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: commonstuff}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: httpd-htdocs, namespace: commonstuff}
data: {index.html: "<h1>Hello from a common config</h1>"}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: commond
  namespace: commonstuff
  annotations: {edge.kubestellar.io/expand-parameters: "true"}
spec:
  selector: {matchLabels: {app: common}}
  template:
    metadata: {labels: {app: common}}
    spec:
      containers:
      - name: httpd
        image: library/httpd:2.4
        env: [{name: WHERE, value: "running in %(region)"}]
---
apiVersion: v1
kind: Namespace
metadata: {name: specialstuff}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: speciald, namespace: specialstuff}
spec:
  selector: {matchLabels: {app: special}}
  template:
    metadata: {labels: {app: special}}
    spec: {containers: [{name: httpd, image: library/httpd:2.4}]}
---
apiVersion: edge.kubestellar.io/v2alpha1
kind: EdgePlacement
metadata: {name: edge-placement-c}
spec:
  locationSelectors: [{matchLabels: {env: prod}}]
  downsync:
  - {apiGroup: "", resources: [configmaps], namespaces: [commonstuff]}
  - {apiGroup: apps, resources: [deployments], namespaces: [commonstuff]}
---
apiVersion: edge.kubestellar.io/v2alpha1
kind: EdgePlacement
metadata: {name: edge-placement-s}
spec:
  locationSelectors: [{matchLabels: {extended: "yes"}}]
  downsync: [{apiGroup: apps, resources: [deployments], namespaces: [specialstuff]}]
  wantSingletonReportedState: true
YAML
"$kubectl" get edgeplacements

step "Wait for the workload in the clusters"
declare -A want_where=([florin]="running in eu" [guilder]="running in us")
for wec in florin guilder; do
  wait_for 120 "commond in $wec" "$kubectl" --kubeconfig "$work/$wec.kubeconfig" -n commonstuff get deployment commond
  wait_for 60 "httpd-htdocs in $wec" "$kubectl" --kubeconfig "$work/$wec.kubeconfig" -n commonstuff get configmap httpd-htdocs
  where=$("$kubectl" --kubeconfig "$work/$wec.kubeconfig" -n commonstuff get deployment commond -o jsonpath='{.spec.template.spec.containers[0].env[0].value}')
  echo "$wec: commond says WHERE=$where"
  if [ "$where" != "${want_where[$wec]}" ]; then
    echo "commond in $wec says WHERE=$where, want ${want_where[$wec]}" >&2
    exit 1
  fi
done
wait_for 60 "speciald in guilder" "$kubectl" --kubeconfig "$work/guilder.kubeconfig" -n specialstuff get deployment speciald
if "$kubectl" --kubeconfig "$work/florin.kubeconfig" -n specialstuff get deployment speciald >/dev/null 2>&1; then
  echo "speciald must not be in florin" >&2
  exit 1
fi
echo "speciald is in guilder only"

step "Report state back: guilder's speciald becomes available there; its status reaches root:wmw1"
generation=$("$kubectl" --kubeconfig "$work/guilder.kubeconfig" -n specialstuff get deployment speciald -o jsonpath='{.metadata.generation}')
"$kubectl" --kubeconfig "$work/guilder.kubeconfig" -n specialstuff patch deployment speciald --subresource=status --type=merge \
  -p '{"status":{"observedGeneration":'"$generation"',"replicas":1,"readyReplicas":1,"availableReplicas":1,"updatedReplicas":1,
       "conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"1 of 1 available"}]}}'
wait_for 60 "speciald's status in root:wmw1" bash -c \
  "[ \"\$('$kubectl' -n specialstuff get deployment speciald -o jsonpath='{.status.availableReplicas}')\" = 1 ]"
echo "root:wmw1 speciald: availableReplicas=$("$kubectl" -n specialstuff get deployment speciald -o jsonpath='{.status.availableReplicas}'), executing-count=$("$kubectl" -n specialstuff get deployment speciald -o jsonpath='{.metadata.annotations.kubestellar\.io/executing-count}')"

step "What travels through the mailboxes"
kubestellar-list-syncing-objects --parent-kubeconfig "$KUBECONFIG" --api-group apps --api-kind Deployment --json

step "Where the workload is: the placements' counts, each object at each cluster, and why"
summary_is() { # summary_is PLACEMENT SELECTED/APPLIED/AVAILABLE/FAILED
  [ "$("$kubectl" get edgeplacement "$1" -o jsonpath='{.status.summary.selected}/{.status.summary.applied}/{.status.summary.available}/{.status.summary.failed}')" = "$2" ]
}
# edge-placement-c: namespace commonstuff, ConfigMap httpd-htdocs and Deployment commond, in
# both clusters; edge-placement-s: namespace specialstuff and Deployment speciald (available),
# in guilder.
wait_for 60 "edge-placement-c applied everywhere" summary_is edge-placement-c 6/6/0/0
wait_for 60 "edge-placement-s applied, speciald available" summary_is edge-placement-s 2/2/1/0
"$kubectl" get edgeplacements
kubectl-kubestellar status
kubectl-kubestellar status edge-placement-s | grep -E '^edge-placement-s +deployments.apps +specialstuff +speciald +guilder +Available '
kubectl-kubestellar explain placement edge-placement-s | tee "$work/explain.txt"
grep -E 'location "guilder" in root:imw1: selected by locationSelectors\[0\]' "$work/explain.txt"
grep -E 'location "florin" in root:imw1: not selected' "$work/explain.txt"

step "Quickstart passed"
