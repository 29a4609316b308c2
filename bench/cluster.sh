#!/usr/bin/env bash
# bench/cluster.sh: the figures of docs/scale-out.md. One S3 server (shared/s3) and one bucket
# of FILES files of SIZE bytes, PUT once through the first cluster's frontend; then one
# configuration after another, each a fresh cluster (scripts/cluster-up.sh, empty caches,
# HAProxy in front), a warm-up and a measured run of the same Zipf(0.9) request sequence
# (bench/zipf_client.py, fixed seeds), with the change of every node's /metrics counters over
# the measured run:
#
#   1 node                        the baseline: one cache of C bytes
#   3 nodes, balance uri          consistent hashing: each name has one node, the caches add up
#   3 nodes, balance roundrobin   each node sees every name: three copies of the same hot set
#   1 node with 3C                what "the caches add up" should reach: one cache of 3C
#   3 nodes, uri, revalidate 30s  what the HEAD per GET of --revalidate-after 0 costs
#
# Throughput is noisier than counters on a shared 2-core machine, so it has its own phase: the
# 1-node, 3-node and revalidate-30s clusters stay up (warm), and take turns, ROUNDS times, with
# the CPU time each process group used (ferryd, HAProxy, the S3 server, the client).
#
# C (--cache-max-bytes of each node) is 1/10 of the working set; the memory tier is off
# (--memory-cache-max-bytes 0) so that C is the only cache. Prints markdown tables and the
# commands it ran on stdout, progress on stderr. About 5 minutes on 2 cores.
#
#   nice -n 10 bench/cluster.sh [--files 2000] [--size 65536] [--warmup 6000]
#                               [--requests 12000] [--rounds 3] [--connections 8]
#
# Needs build/release/bin/ferryd (make build), haproxy, python3 and shared/s3's Ceph packages.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
s3_scripts=${FERRY_S3_SCRIPTS:-$repo/../shared/s3}
client=$repo/bench/zipf_client.py
files=2000 size=65536 warmup=6000 requests=12000 rounds=3 connections=8
while (($#)); do
  case $1 in
    --files) files=${2:?}; shift 2 ;;
    --size) size=${2:?}; shift 2 ;;
    --warmup) warmup=${2:?}; shift 2 ;;
    --requests) requests=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --connections) connections=${2:?}; shift 2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
cache_bytes=$((files * size / 10))
bucket=ferry-bench
throughput_requests=$((requests * 2 / 3))

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-cluster.XXXXXX")
states=()
cleanup() {
  local state
  for state in "${states[@]}"; do bash "$repo/scripts/cluster-down.sh" "$state" --purge 2>/dev/null || true; done
  [[ ! -e $work/s3/.s3-state ]] || bash "$s3_scripts/stop-s3.sh" "$work/s3" >&2 || true
  rm -rf -- "$work"
}
trap cleanup EXIT
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
commands=()
# run COMMAND...: runs it and keeps its exact text for the report.
run() {
  commands+=("$(printf '%q ' "$@")")
  "$@"
}
# cpu_ticks PID_FILE...: user + system clock ticks so far of those processes (all threads).
cpu_ticks() {
  local pid_file stat total=0
  local -a fields
  for pid_file in "$@"; do
    stat=$(<"/proc/$(<"$pid_file")/stat")
    read -r -a fields <<<"${stat##*) }"  # after "(comm) ": field 3 (state) is fields[0]
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

log "S3 server (shared/s3/start-s3.sh) in $work/s3"
bash "$s3_scripts/start-s3.sh" "$work/s3" >"$work/s3.env" 2>"$work/s3.log" \
  || { tail -n 20 "$work/s3.log" >&2; exit 1; }

declare -A frontend_of
# measure NAME NODES BALANCE REVALIDATE_AFTER CACHE_BYTES [keep]: one configuration, its
# figures in $work/NAME.json; with "keep" the cluster stays up for the throughput phase.
measure() {
  local name=$1 nodes=$2 balance=$3 revalidate=$4 cache=$5 keep=${6:-} state=$work/$1 k
  states+=("$state")
  log "$name: $nodes node(s), balance $balance, --revalidate-after $revalidate, cache $cache"
  run "$repo/scripts/cluster-up.sh" --state "$state" --nodes "$nodes" --balance "$balance" \
    --cache-max-bytes "$cache" --revalidate-after "$revalidate" --s3-env "$work/s3.env" \
    --bucket "$bucket" -- --memory-cache-max-bytes 0 >"$work/$name.up" 2>&1 \
    || { cat "$work/$name.up" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$state/cluster.env"
  frontend_of[$name]=$FRONTEND
  local -a metrics=()
  for ((k = 1; k <= nodes; k++)); do
    local address_var=NODE${k}_HTTP
    metrics+=("http://${!address_var}")
  done
  if [[ ! -e $work/uploaded ]]; then
    log "$name: PUT $files files of $size bytes through the frontend"
    run python3 "$client" put --url "http://$FRONTEND" --files "$files" --size "$size" >&2
    touch "$work/uploaded"
  fi
  log "$name: warm-up, $warmup requests (seed 1)"
  run python3 "$client" get --url "http://$FRONTEND" --files "$files" --size "$size" \
    --requests "$warmup" --seed 1 --connections "$connections" >"$work/$name.warmup.json"
  log "$name: measured run, $requests requests (seed 2)"
  run python3 "$client" get --url "http://$FRONTEND" --files "$files" --size "$size" \
    --requests "$requests" --seed 2 --connections "$connections" --metrics "${metrics[@]}" \
    >"$work/$name.json"
  [[ $keep == keep ]] || run "$repo/scripts/cluster-down.sh" "$state" --purge 2>/dev/null
}

measure one-node 1 uri 0 "$cache_bytes" keep
measure uri 3 uri 0 "$cache_bytes" keep
measure roundrobin 3 roundrobin 0 "$cache_bytes"
measure one-node-3c 1 uri 0 $((3 * cache_bytes))
measure uri-revalidate-30s 3 uri 30s "$cache_bytes" keep

# Throughput: the kept clusters take turns, so drift on the machine hits each alike.
throughput_configs=(one-node uri uri-revalidate-30s)
for ((round = 1; round <= rounds; round++)); do
  for name in "${throughput_configs[@]}"; do
    log "throughput round $round/$rounds: $name, $throughput_requests requests (seed $((10 + round)))"
    ferryd_pids=("$work/$name"/pids/node*.pid)
    haproxy_pid=$work/$name/pids/haproxy.pid
    s3_pids=("$work"/s3/pids/*.pid)
    before="$(cpu_ticks "${ferryd_pids[@]}") $(cpu_ticks "$haproxy_pid") $(cpu_ticks "${s3_pids[@]}")"
    run python3 "$client" get --url "http://${frontend_of[$name]}" --files "$files" --size "$size" \
      --requests "$throughput_requests" --seed $((10 + round)) --connections "$connections" \
      >"$work/throughput-$name-$round.json"
    after="$(cpu_ticks "${ferryd_pids[@]}") $(cpu_ticks "$haproxy_pid") $(cpu_ticks "${s3_pids[@]}")"
    echo "$name $round $before $after" >>"$work/cpu.txt"
  done
done

python3 - "$work" "$files" "$size" "$cache_bytes" "$warmup" "$requests" "$connections" "$rounds" \
  "$throughput_requests" "$(getconf CLK_TCK)" "$(nproc)" <<'PY'
import json, statistics, sys
work = sys.argv[1]
files, size, cache_bytes, warmup, requests, connections, rounds, throughput_requests, hz, cores = \
    map(int, sys.argv[2:])
names = {"one-node": ("1 node, C", "-", "0"),
         "uri": ("3 nodes, C each", "uri, consistent", "0"),
         "roundrobin": ("3 nodes, C each", "roundrobin", "0"),
         "one-node-3c": ("1 node, 3C", "-", "0"),
         "uri-revalidate-30s": ("3 nodes, C each", "uri, consistent", "30s")}
print(f"Zipf(0.9) over {files:,} files of {size // 1024} KiB ({files * size / 2**20:.0f} MiB); "
      f"each node's cache C = {cache_bytes:,} bytes (1/10 of the working set); "
      f"{connections} keep-alive connections through HAProxy.\n")
print(f"Cache and store: {requests:,} measured requests (seed 2) after {warmup:,} of warm-up (seed 1), "
      "on fresh clusters; counters summed over the nodes' /metrics:\n")
print("| configuration | balance | --revalidate-after | hit ratio | S3 GET / request | S3 HEAD / request "
      "| S3 GET+HEAD+LIST / request | S3 bytes read / request | GETs per node |")
print("|---|---|---|---|---|---|---|---|---|")
get_key = 'ferry_requests_total{door="http",command="get",status="2xx"}'
for name, (nodes, balance, revalidate) in names.items():
    r = json.load(open(f"{work}/{name}.json"))
    d = r["delta"]
    served = d[get_key]  # the nodes' own count: the denominator of every ratio
    hits, misses = d["ferry_cache_hits_total"], d["ferry_cache_misses_total"]
    gets, heads, lists = (d[f"ferry_store_{op}_requests_total"] for op in ("get", "head", "list"))
    per_node = " / ".join(f"{n[get_key]:,}" for n in r["nodes"])
    print(f"| {nodes} | {balance} | {revalidate} | {hits / (hits + misses):.3f} | {gets / served:.3f} "
          f"| {heads / served:.3f} | {(gets + heads + lists) / served:.3f} "
          f"| {d['ferry_store_get_bytes_received_total'] / served / 1024:.1f} KiB | {per_node} |")
    if r["errors"] or r["failures"] or served != r["requests"] or r["x_cache_hits"] != hits:
        print(f"\n**{name}: {r['errors']} errors, {served} GETs counted for {r['requests']} sent, "
              f"{r['x_cache_hits']} X-Cache HITs for {hits} hits counted: {r['failures']}**\n")

cpu = {}
for line in open(f"{work}/cpu.txt"):
    name, round_, *ticks = line.split()
    ticks = list(map(int, ticks))
    cpu.setdefault(name, []).append([(a - b) / hz for b, a in zip(ticks[:3], ticks[3:])])
print(f"\nThroughput, {rounds} rounds of {throughput_requests:,} requests (seeds 11...) on the warm "
      f"clusters above, taking turns; requests/s as median (min–max); CPU time per request, "
      f"median, of each process group (this machine has {cores} cores):\n")
print("| configuration | --revalidate-after | requests/s | p50 ms | p99 ms | CPU ms/request: ferryd "
      "| HAProxy | S3 (RGW, OSD, mon) | client | all, as cores busy |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name in ("one-node", "uri", "uri-revalidate-30s"):
    runs = [json.load(open(f"{work}/throughput-{name}-{k}.json")) for k in range(1, rounds + 1)]
    rates = [r["requests_per_second"] for r in runs]
    med = lambda values: statistics.median(values)
    per_request = lambda group: med([c[group] * 1000 / r["requests"] for c, r in zip(cpu[name], runs)])
    client_ms = med([r["client_cpu_seconds"] * 1000 / r["requests"] for r in runs])
    busy = med([(sum(c) + r["client_cpu_seconds"]) / r["seconds"] for c, r in zip(cpu[name], runs)])
    nodes, _, revalidate = names[name]
    print(f"| {nodes} | {revalidate} | {med(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f}) "
          f"| {med([r['p50_ms'] for r in runs]):.1f} | {med([r['p99_ms'] for r in runs]):.1f} "
          f"| {per_request(0):.2f} | {per_request(1):.2f} | {per_request(2):.2f} | {client_ms:.2f} "
          f"| {busy:.2f} |")
    for r in runs:
        if r["errors"] or r["failures"]:
            print(f"\n**{name}: {r['errors']} errors: {r['failures']}**\n")
PY
printf '\nCommands (in order; %s):\n\n```sh\n' "$(date -u +%FT%TZ)"
printf '%s\n' "${commands[@]}"
printf '```\n'
