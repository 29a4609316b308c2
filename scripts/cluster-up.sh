#!/usr/bin/env bash
# Starts the scale-out demo on 127.0.0.1 (docs/scale-out.md): an S3 server (Ceph RGW, from
# shared/s3), a bucket, N ferryd nodes on it, and HAProxy in front of their HTTP doors.
#
#   scripts/cluster-up.sh [--nodes 3] [--balance uri|roundrobin] [--cache-max-bytes 1G]
#                         [--state DIR] [--frontend 127.0.0.1:PORT] [--bucket ferry]
#                         [--revalidate-after 0] [--s3-env FILE] [-- MORE FERRYD FLAGS]
#   scripts/cluster-down.sh STATE [--purge]   # stops all of it again
#
# --state DIR           pids, logs, caches and cluster.env (default: a new mktemp dir); a
#                       stopped cluster's dir may be reused (an S3 server started here
#                       starts empty again)
# --revalidate-after D  0 (default): every GET asks S3 with a conditional HEAD, so a PUT
#                       through any node is seen by all at once, the cluster's consistency
#                       model; longer saves S3 requests, but a node may then serve a replaced
#                       file for that long
# --s3-env FILE         use the S3 server FILE describes (start-s3.sh's output) instead of
#                       starting one; cluster-down.sh then leaves it running
# Environment: FERRYD (default build/release/bin/ferryd), FERRY_S3_SCRIPTS (default
# ../shared/s3 beside the clone), HAPROXY (default haproxy).
#
# Every process listens on 127.0.0.1 only: ferryd runs without --auth-file here. ferryd and
# HAProxy run as the calling user; nothing needs root, so do not call this as root where you
# can avoid it (the demo machine runs everything as root, which works the same).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ferryd=${FERRYD:-$repo/build/release/bin/ferryd}
s3_scripts=${FERRY_S3_SCRIPTS:-$repo/../shared/s3}
haproxy=${HAPROXY:-haproxy}
template=$repo/deploy/cluster/haproxy.cfg.in
readonly wait_seconds=30  # for each thing that must come up

nodes=3 balance=uri cache_max_bytes=1G state='' frontend='' bucket=ferry s3_env='' revalidate_after=0
ferryd_extra=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --nodes) nodes=${2:?}; shift 2 ;;
    --balance) balance=${2:?}; shift 2 ;;
    --cache-max-bytes) cache_max_bytes=${2:?}; shift 2 ;;
    --state) state=${2:?}; shift 2 ;;
    --frontend) frontend=${2:?}; shift 2 ;;
    --bucket) bucket=${2:?}; shift 2 ;;
    --s3-env) s3_env=${2:?}; shift 2 ;;
    --revalidate-after) revalidate_after=${2:?}; shift 2 ;;
    --) shift; ferryd_extra=("$@"); break ;;
    -h | --help) usage ;;
    *) echo "cluster-up: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ $nodes =~ ^[1-9][0-9]?$ ]] || { echo "cluster-up: --nodes must be 1 to 99" >&2; exit 2; }
case $balance in
  uri) balance_lines=$'uri path-only\n    hash-type consistent' ;;
  roundrobin) balance_lines=roundrobin ;;
  *) echo "cluster-up: --balance must be uri or roundrobin" >&2; exit 2 ;;
esac
[[ $bucket =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || { echo "cluster-up: bad bucket name '$bucket'" >&2; exit 2; }
[[ -z $frontend || $frontend =~ ^127\.[0-9.]+:[0-9]+$ ]] \
  || { echo "cluster-up: --frontend must be 127.x.x.x:PORT (the nodes have no authentication)" >&2; exit 2; }
[[ -x $ferryd ]] || { echo "cluster-up: no $ferryd: build first (make build) or set FERRYD" >&2; exit 1; }
command -v "$haproxy" >/dev/null || { echo "cluster-up: haproxy is not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "cluster-up: python3 is needed to pick free ports" >&2; exit 1; }
if [[ -z $s3_env && ! -f $s3_scripts/start-s3.sh ]]; then
  echo "cluster-up: no $s3_scripts/start-s3.sh: set FERRY_S3_SCRIPTS" >&2; exit 1
fi
((EUID != 0)) || echo "cluster-up: running as root (ferryd needs no privilege; prefer a plain user)" >&2

if [[ -z $state ]]; then
  state=$(mktemp -d "${TMPDIR:-/tmp}/ferry-cluster.XXXXXX")
else
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  # One cluster per state dir: a second start would orphan the first one's processes.
  for pid_file in "$state"/pids/*.pid; do
    if [[ -s $pid_file ]] && kill -0 "$(<"$pid_file")" 2>/dev/null; then
      echo "cluster-up: $state has a running cluster: scripts/cluster-down.sh $state first" >&2; exit 1
    fi
  done
  [[ ! -e $state/s3/.s3-state ]] || bash "$s3_scripts/stop-s3.sh" "$state/s3"
fi
# cluster-down.sh checks this mark before it deletes anything.
touch "$state/.ferry-cluster"
mkdir -p "$state/pids"
echo "cluster-up: state in $state" >&2

# On any failure, stop what was started so far; the logs stay in $state.
started=0
on_exit() {
  if ((!started)); then
    echo "cluster-up: failed; stopping what started (logs in $state)" >&2
    bash "$repo/scripts/cluster-down.sh" "$state" >&2 || true
  fi
}
trap on_exit EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_until DESCRIPTION COMMAND...: polls every 0.1s, fails after $wait_seconds.
wait_until() {
  local description=$1 tries
  shift
  for ((tries = 0; tries < wait_seconds * 10; tries++)); do
    "$@" && return 0
    sleep 0.1
  done
  echo "cluster-up: $description did not happen within ${wait_seconds}s" >&2
  return 1
}

# --- S3 and the bucket
if [[ -n $s3_env ]]; then
  # shellcheck disable=SC1090  # start-s3.sh's output: export lines
  source "$s3_env"
  s3_owned=0
else
  bash "$s3_scripts/start-s3.sh" "$state/s3" >"$state/s3.env" 2>"$state/s3.log" \
    || { tail -n 20 "$state/s3.log" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$state/s3.env"
  s3_owned=1
fi
readonly empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
bucket_status=$(curl -sS -o "$state/bucket.reply" -w '%{http_code}' --max-time 10 -X PUT \
  -H "x-amz-content-sha256: $empty_sha256" --aws-sigv4 "aws:amz:$S3_REGION:s3" \
  --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" "$S3_ENDPOINT/$bucket")
# 409 BucketAlreadyOwnedByYou is fine: a rerun on the same S3 keeps its files.
if [[ $bucket_status != 200 ]] && ! grep -q BucketAlreadyOwnedByYou "$state/bucket.reply"; then
  echo "cluster-up: creating bucket $bucket: HTTP $bucket_status" >&2; cat "$state/bucket.reply" >&2; exit 1
fi

# --- ferryd nodes
for ((k = 1; k <= nodes; k++)); do
  node=$state/node$k
  mkdir -p "$node/data" "$node/cache"
  rm -f "$node/ready"
  AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
    nohup "$ferryd" --store "s3://$bucket" --s3-endpoint "$S3_ENDPOINT" --s3-region "$S3_REGION" \
    --revalidate-after "$revalidate_after" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
    --data "$node/data" --cache "$node/cache" --cache-max-bytes "$cache_max_bytes" \
    --ready-file "$node/ready" "${ferryd_extra[@]}" </dev/null >"$node/ferryd.log" 2>&1 &
  echo $! >"$state/pids/node$k.pid"
done
node_ready() {  # the ready file has both lines and the node answers /healthz
  local ready=$state/node$1/ready
  kill -0 "$(<"$state/pids/node$1.pid")" 2>/dev/null \
    || { echo "cluster-up: node$1 exited:" >&2; tail -n 20 "$state/node$1/ferryd.log" >&2; exit 1; }
  [[ -s $ready && $(wc -l <"$ready") -ge 2 ]] \
    && curl -fsS -o /dev/null --max-time 2 "http://$(sed -n '2s/^http //p' "$ready")/healthz"
}
declare -a native http
for ((k = 1; k <= nodes; k++)); do
  wait_until "node$k ready" node_ready "$k"
  native[k]=$(sed -n 1p "$state/node$k/ready")
  http[k]=$(sed -n '2s/^http //p' "$state/node$k/ready")
done

# --- HAProxy
[[ -n $frontend ]] || frontend=127.0.0.1:$(free_port)
stats=127.0.0.1:$(free_port)
servers=''
for ((k = 1; k <= nodes; k++)); do
  servers+=${servers:+$'\n    '}"server node$k ${http[k]} check"
done
config=$(<"$template")
# Quoted replacements: bash 5.2 would otherwise expand '&' in them.
config=${config//@FRONTEND@/"$frontend"}
config=${config//@STATS@/"$stats"}
config=${config//@BALANCE@/"$balance_lines"}
config=${config//@SERVERS@/"$servers"}
printf '%s\n' "$config" >"$state/haproxy.cfg"
"$haproxy" -c -f "$state/haproxy.cfg" >"$state/haproxy.log" 2>&1 \
  || { cat "$state/haproxy.log" >&2; exit 1; }
"$haproxy" -f "$state/haproxy.cfg" -D -p "$state/pids/haproxy.pid" >>"$state/haproxy.log" 2>&1 \
  || { cat "$state/haproxy.log" >&2; exit 1; }
frontend_ready() { curl -fsS -o /dev/null --max-time 2 "http://$frontend/healthz"; }
wait_until "haproxy on $frontend" frontend_ready

# --- what a user needs
{
  printf '%s=%q\n' STATE "$state" FRONTEND "$frontend" STATS "$stats" NODES "$nodes" \
    BALANCE "$balance" REVALIDATE_AFTER "$revalidate_after" CACHE_MAX_BYTES "$cache_max_bytes" \
    BUCKET "$bucket" S3_OWNED "$s3_owned" S3_ENDPOINT "$S3_ENDPOINT" S3_REGION "$S3_REGION" \
    S3_ACCESS_KEY "$S3_ACCESS_KEY" S3_SECRET_KEY "$S3_SECRET_KEY" S3_STATE_DIR "${S3_STATE_DIR:-}"
  for ((k = 1; k <= nodes; k++)); do
    printf '%s=%q\n' "NODE${k}_HTTP" "${http[k]}" "NODE${k}_NATIVE" "${native[k]}"
  done
} >"$state/cluster.env"
chmod 600 "$state/cluster.env"  # it holds the S3 secret key
started=1

cat <<EOF
ferry cluster: $nodes ferryd nodes on s3://$bucket ($S3_ENDPOINT), haproxy balance $balance,
  --revalidate-after $revalidate_after, --cache-max-bytes $cache_max_bytes per node
  frontend  http://$frontend/        (curl, browsers; HAProxy status page: http://$stats/)
$(for ((k = 1; k <= nodes; k++)); do echo "  node$k     http://${http[k]}/  native ${native[k]}"; done)
  state     $state  (cluster.env, logs, caches)

  curl -T report.pdf http://$frontend/files/
  curl -O http://$frontend/files/report.pdf
  curl -s http://${http[1]}/metrics | grep -E 'ferry_cache_hit|ferry_store_(get|head)_requests'
  $repo/build/release/bin/ferry -s ${native[1]} ls
  $repo/build/release/bin/ferry -s ${native[1]} stats
  $repo/scripts/cluster-down.sh $state
EOF
