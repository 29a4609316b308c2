#!/usr/bin/env bash
# Prints the miss-ratio tables of docs/cache.md: every policy and OPT on every shared trace at
# 1%, 5% and 10% of its unique bytes and, with --unit-size, of its unique objects.
#   scripts/cache-figures.sh [TRACES_DIR]      (default: ../shared/traces beside the clone)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
traces=${1:-$here/../shared/traces}
sim=$here/build/release/bin/ferry-sim
[[ -x $sim ]] || { echo "build first: make build" >&2; exit 1; }
policies=lru,fifo,lfu,sieve,wtinylfu,s3fifo,opt
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for unit in bytes unit; do
  for trace in cloudphysics cache2k-web07 cache2k-web12; do
    flag=(); [[ $unit == unit ]] && flag=(--unit-size)
    "$sim" --trace "$traces/$trace.csv" --policy "$policies" "${flag[@]}" --json \
      > "$out/$trace.$unit.json"
  done
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
traces = ["cloudphysics", "cache2k-web07", "cache2k-web12"]
policies = ["lru", "fifo", "lfu", "sieve", "wtinylfu", "s3fifo", "opt"]
ours = ["fifo", "lfu", "sieve", "wtinylfu", "s3fifo"]
for unit, metrics in [("bytes", [("miss_ratio", "object miss ratio"), ("byte_miss_ratio", "byte miss ratio")]),
                      ("unit", [("miss_ratio", "miss ratio, unit size")])]:
    for field, title in metrics:
        print(f"\n#### {title}" + (" (cache = % of unique bytes)" if unit == "bytes" else " (cache = % of unique objects)"))
        print("\n| trace | size | " + " | ".join(policies) + " |")
        print("|---|---|" + "---|" * len(policies))
        closed = {p: [] for p in ours}
        worse = {p: 0 for p in ours}
        for trace in traces:
            rows = json.load(open(f"{out}/{trace}.{unit}.json"))
            by = {}
            for r in rows:
                by.setdefault((r["size"], r["size_bytes"]), {})[r["policy"]] = r[field]
            for (size, size_bytes), values in by.items():
                best = min(values[p] for p in ours)
                cells = [f"**{values[p]:.4f}**" if p in ours and values[p] == best else f"{values[p]:.4f}" for p in policies]
                print(f"| {trace} | {size} ({size_bytes:,}) | " + " | ".join(cells) + " |")
                for p in ours:
                    closed[p].append((values["lru"] - values[p]) / (values["lru"] - values["opt"]))
                    worse[p] += values[p] > values["lru"] + 1e-12
        print("\nShare of the LRU-to-OPT gap closed, mean over the 9 cells (cells worse than LRU):\n")
        print("| " + " | ".join(ours) + " |\n|" + "---|" * len(ours))
        print("| " + " | ".join(f"{100 * sum(closed[p]) / len(closed[p]):.1f}% ({worse[p]})" for p in ours) + " |")
PY
