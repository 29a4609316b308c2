#!/usr/bin/env bash
# bench/compare.sh: ferryd (both doors) beside nginx, the reference Python server and this
# machine's limits, on the same files, in one run; writes the table of docs/performance.md.
# Installs what it needs (Debian packages), builds the release preset, then runs
# bench/compare.py with the arguments given here (--help for them):
#
#   bench/compare.sh                 # 3 repetitions, about 15 minutes; prints the report
#   bench/compare.sh --docs          # and puts it into docs/performance.md
#   bench/compare.sh --quick         # a smoke test of the harness (about 1 minute)
#
# Everything runs on 127.0.0.1; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/install-deps.sh --bench
cmake --preset release >/dev/null
cmake --build --preset release
exec python3 bench/compare.py "$@"
