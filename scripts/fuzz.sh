#!/usr/bin/env bash
# Runs the fuzz targets built by the fuzz preset (make fuzz, docs/fuzzing.md), each for SECONDS
# (default $FUZZ_SECONDS, else 60), on a copy of its seed corpus in build/fuzz/corpus/<target>
# (the repository's fuzz/corpus is only read; what a run finds stays for the next run). Fails if
# any target reports a crash, a broken invariant, a leak, a timeout or a sanitizer error; the
# input that did it is in build/fuzz/artifacts/<target>/.
#   scripts/fuzz.sh [SECONDS [TARGET...]]      targets: build/fuzz/fuzzers.txt by default
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${FUZZ_SECONDS:-60}}
(($# > 0)) && shift
build=build/fuzz
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(grep -v '^$' "$build/fuzzers.txt")
fi
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
# Readable stack traces even where only llvm-14 (not the `llvm` package's llvm-symbolizer) is in.
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} && -x /usr/lib/llvm-14/bin/llvm-symbolizer ]]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi

failed=()
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  log="$build/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp -n fuzz/corpus/"$target"/* "$corpus"/
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/")
  [[ -f fuzz/$target.dict ]] && args+=(-dict="fuzz/$target.dict")
  if [[ -f fuzz/$target.options ]]; then
    while read -r option; do
      [[ -z $option || $option == \#* ]] || args+=("$option")
    done < "fuzz/$target.options"
  fi
  if "$build/bin/$target" "${args[@]}" "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    echo "fuzz: $target: ok, ${runs:-?} runs in ${seconds}s (${rate:-?} exec/s), corpus $(ls "$corpus" | wc -l) inputs"
  else
    status=$?
    echo "fuzz: $target: FAILED (exit $status); the log's end ($log):"
    tail -n 40 "$log" | sed 's/^/  /'
    echo "  reproduce: $build/bin/$target $artifacts/<the input named above>"
    failed+=("$target")
  fi
done
if ((${#failed[@]} > 0)); then
  echo "fuzz: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no failure"
