#!/usr/bin/env bash
# Starts the space server from bin/ as a background process with its state in ROOT_DIR
# (default .kubestellar), waits until it serves, and prints how to use it.
# Usage: hack/run-space-server.sh [start|stop]
set -euo pipefail

root_dir=${ROOT_DIR:-.kubestellar}
port=${SECURE_PORT:-6443}
pid_file=$root_dir/space-server.pid
log_file=$root_dir/space-server.log

running() { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

case ${1:-start} in
stop)
  if running; then
    pid=$(cat "$pid_file")
    echo "Stopping the space server (pid $pid)"
    kill "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  else
    echo "The space server is not running"
  fi
  rm -f "$pid_file"
  exit 0
  ;;
start) ;;
*) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac

mkdir -p "$root_dir"
if running; then
  echo "The space server is already running (pid $(cat "$pid_file"))"
else
  echo "Starting the space server on port $port (state in $root_dir, log in $log_file)"
  setsid bin/kubestellar-space-server --root-dir "$root_dir" --secure-port "$port" >>"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
fi

for i in $(seq 180); do
  if ! running; then
    echo "The space server exited; the end of $log_file:" >&2
    tail -n 20 "$log_file" >&2
    exit 1
  fi
  if [ -f "$root_dir/pki/ca.crt" ] && curl -fsS --cacert "$root_dir/pki/ca.crt" "https://localhost:$port/readyz" >/dev/null 2>&1; then
    echo "The space server is ready. To use it:"
    echo "  export KUBECONFIG=$(realpath "$root_dir/admin.kubeconfig")"
    exit 0
  fi
  [ $((i % 10)) -eq 0 ] && echo "Waiting for the space server (${i}s)"
  sleep 1
done
echo "The space server did not become ready in 180s; see $log_file" >&2
exit 1
