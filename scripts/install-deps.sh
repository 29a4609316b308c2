#!/usr/bin/env bash
# Installs the Debian 12 packages ferry needs to build and test. Idempotent: apt-get runs only
# when something is missing, so a warm machine pays well under a second.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --browser  also Chromium, for the browser test (make test-browser)
#   scripts/install-deps.sh --fuzz     also clang and libFuzzer, for the fuzz preset (make fuzz)
#   scripts/install-deps.sh --bench    also nginx, wrk, iperf3 and python3, for bench/compare.sh
#   scripts/install-deps.sh --s3       also Ceph's RADOS Gateway and HAProxy, for the S3 and
#                                      cluster tests (tests/s3_test.cc; skipped without them)
#   scripts/install-deps.sh --print    list the packages, install nothing
# Flags combine: scripts/install-deps.sh --s3 --bench
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev        # Asio (C++20 coroutines) and Beast; 1.81, not Debian's default 1.74
  libssl-dev              # TLS and SHA-256
  openssl                 # scripts/make-test-ca.sh: the TLS tests' CA and certificates
  libxxhash-dev           # xxh128 checksums
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev
  libcurl4-openssl-dev    # the S3 store: HTTP, connection reuse and SigV4 signing
  libpugixml-dev          # the S3 store: the XML of S3's replies
  libedit-dev             # ferry shell: history and tab completion (BSD-licensed, unlike readline)
  libgtest-dev libgmock-dev libbenchmark-dev
  curl wget netcat-openbsd  # the integration tests drive ferryd with these too
  libsystemd-dev          # ferryd: sd_notify (the unit's Type=notify)
  help2man                # the man pages, made at build time from the programs' --help
  dpkg-dev                # make package: dpkg-shlibdeps computes the .deb's Depends
  systemd                 # tests/package: systemd-analyze verify of the unit
  logrotate               # tests/package: logrotate -d of /etc/logrotate.d/ferry
)
# Only the browser test needs these; `make test` stays lean without them.
browser_packages=(chromium python3)
# Only the fuzz preset needs these: clang++-14, libFuzzer and the sanitizer runtimes, and
# llvm-symbolizer for readable stack traces.
fuzz_packages=(clang-14 libclang-rt-14-dev llvm-14)
# Only bench/compare.sh needs these: the servers and tools ferryd is measured against.
bench_packages=(nginx wrk iperf3 python3 gcc)

# A real S3 server (../shared/s3/start-s3.sh runs it from these) and the cluster's balancer.
s3_packages=(ceph-mon ceph-osd radosgw ceph-common haproxy curl)

print=false
for flag in "$@"; do
  case "$flag" in
    --browser) packages+=("${browser_packages[@]}") ;;
    --fuzz) packages+=("${fuzz_packages[@]}") ;;
    --bench) packages+=("${bench_packages[@]}") ;;
    --s3) packages+=("${s3_packages[@]}") ;;
    --print) print=true ;;
    *) echo "install-deps: unknown flag $flag" >&2; exit 2 ;;
  esac
done
if $print; then
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
