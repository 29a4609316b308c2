#!/usr/bin/env bash
# Stops what scripts/cluster-up.sh started in STATE: HAProxy, then the ferryd nodes, then the
# S3 server if cluster-up started it (not one given with --s3-env).
#
#   scripts/cluster-down.sh STATE [--purge]    # --purge also deletes STATE (logs, caches)
#
# Only the PIDs recorded in STATE/pids are signalled, and only while their command line still
# names STATE (a PID reused by another program is left alone): SIGTERM, a bounded wait (ferryd
# lets transfers in flight finish for up to 10s), then SIGKILL. Running it again is harmless.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
s3_scripts=${FERRY_S3_SCRIPTS:-$repo/../shared/s3}
readonly grace_seconds=15

state=${1:-}
purge=0
[[ ${2:-} == --purge ]] && purge=1
[[ -n $state ]] || { echo "usage: $0 STATE [--purge]" >&2; exit 2; }
if [[ ! -e $state/.ferry-cluster ]]; then
  echo "cluster-down: $state holds no cluster (no .ferry-cluster mark): nothing to do" >&2
  exit 0
fi
state=$(cd "$state" && pwd)

# ours PID: alive, and its command line names the state dir (builtins only: no fork per poll).
ours() {
  local -a args
  local arg
  mapfile -d '' args 2>/dev/null <"/proc/$1/cmdline" || return 1
  for arg in "${args[@]}"; do [[ $arg == "$state"/* ]] && return 0; done
  return 1
}

# stop NAME...: TERM to each, one shared bounded wait, KILL to whatever is left.
stop() {
  local name pid tries
  local -a pids=()
  for name in "$@"; do
    local pid_file=$state/pids/$name.pid
    [[ -s $pid_file ]] || continue
    pid=$(<"$pid_file")
    if ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for ((tries = 0; tries < grace_seconds * 20 && ${#pids[@]} > 0; tries++)); do
    local -a alive=()
    for pid in "${pids[@]}"; do ours "$pid" && alive+=("$pid"); done
    pids=("${alive[@]}")
    ((${#pids[@]} == 0)) || sleep 0.05
  done
  for pid in "${pids[@]}"; do
    echo "cluster-down: $pid still running after ${grace_seconds}s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  done
  for name in "$@"; do rm -f "$state/pids/$name.pid"; done
}

# The proxy first, so no new request reaches a node that is stopping.
stop haproxy
nodes=()
for pid_file in "$state"/pids/node*.pid; do
  [[ -e $pid_file ]] && nodes+=("$(basename "$pid_file" .pid)")
done
((${#nodes[@]} == 0)) || stop "${nodes[@]}"
if [[ -e $state/s3/.s3-state ]]; then
  bash "$s3_scripts/stop-s3.sh" "$state/s3" >&2
fi
if ((purge)); then
  rm -rf -- "$state"
  echo "cluster-down: stopped; $state deleted" >&2
else
  echo "cluster-down: stopped; logs and caches stay in $state" >&2
fi
