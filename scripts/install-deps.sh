#!/usr/bin/env bash
# Installs the Debian 12 packages ferry needs to build and test. Idempotent: apt-get runs only
# when something is missing, so a warm machine pays well under a second.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --browser  also Chromium, for the browser test (make test-browser)
#   scripts/install-deps.sh --fuzz     also clang and libFuzzer, for the fuzz preset (make fuzz)
#   scripts/install-deps.sh --bench    also nginx, wrk, iperf3 and python3, for bench/compare.sh
#   scripts/install-deps.sh --print    list the packages, install nothing
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev        # Asio (C++20 coroutines) and Beast; 1.81, not Debian's default 1.74
  libssl-dev              # TLS and SHA-256
  openssl                 # scripts/make-test-ca.sh: the TLS tests' CA and certificates
  libxxhash-dev           # xxh128 checksums
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev
  libcurl4-openssl-dev
  libedit-dev             # ferry shell: history and tab completion (BSD-licensed, unlike readline)
  libgtest-dev libgmock-dev libbenchmark-dev
  curl wget netcat-openbsd  # the integration tests drive ferryd with these too
)
# Only the browser test needs these; `make test` stays lean without them.
browser_packages=(chromium python3)
# Only the fuzz preset needs these: clang++-14, libFuzzer and the sanitizer runtimes, and
# llvm-symbolizer for readable stack traces.
fuzz_packages=(clang-14 libclang-rt-14-dev llvm-14)
# Only bench/compare.sh needs these: the servers and tools ferryd is measured against.
bench_packages=(nginx wrk iperf3 python3 gcc)

if [[ "${1:-}" == "--browser" ]]; then
  packages+=("${browser_packages[@]}")
  shift
fi
if [[ "${1:-}" == "--fuzz" ]]; then
  packages+=("${fuzz_packages[@]}")
  shift
fi
if [[ "${1:-}" == "--bench" ]]; then
  packages+=("${bench_packages[@]}")
  shift
fi
if [[ "${1:-}" == "--print" ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
