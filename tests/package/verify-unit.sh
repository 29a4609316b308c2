#!/usr/bin/env bash
# Checks the configured systemd unit (deploy/systemd/ferryd.service.in after configure_file)
# offline, without systemd running as PID 1 (a container, CI):
#   1. no @PLACEHOLDER@ is left;
#   2. `systemd-analyze verify` says nothing about the unit (systemd only warns about unknown
#      keys and bad values, with exit code 0, so its output is read, not just its status);
#   3. `systemd-analyze security --offline=true` rates its exposure at most
#      FERRY_MAX_EXPOSURE (default 2.0; 0 is the best, 10 the worst), and prints the score and
#      the items still exposed.
# The unit's ExecStart program need not be installed: when it is not executable, a copy of the
# unit runs a stand-in (/bin/true under the same name), as verify checks that it exists.
#
#   tests/package/verify-unit.sh BUILD/systemd/ferryd.service
#
# Exit codes: 0 ok, 1 a check failed, 2 usage, 77 systemd-analyze is not installed (skip).
# Each systemd-analyze call is bounded by `timeout 60`.
set -euo pipefail

if [[ $# -ne 1 || ! -f $1 ]]; then
  echo "usage: $0 CONFIGURED_UNIT_FILE" >&2
  exit 2
fi
unit_file=$1
name=$(basename "$unit_file")
max_exposure=${FERRY_MAX_EXPOSURE:-2.0}

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (Debian package: systemd)"
  exit 77
fi

failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}

# 1. Placeholders configure_file should have replaced.
if grep -n '@[A-Za-z_][A-Za-z0-9_]*@' "$unit_file"; then
  fail "$unit_file still has @PLACEHOLDERS@ (not configured?)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/verify-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unit="$tmp/$name"
cp "$unit_file" "$unit"

# The program of ExecStart= (after any of the prefixes - @ : + !), as systemd reads it.
program=$(sed -n 's/^ExecStart=[-@:+!]*\([^[:space:]]*\).*/\1/p' "$unit_file" | head -n 1)
if [[ -z $program ]]; then
  fail "$unit_file has no ExecStart="
elif [[ ! -x $program ]]; then
  mkdir "$tmp/bin"
  stand_in="$tmp/bin/$(basename "$program")"
  cp "$(type -P true)" "$stand_in"
  # Only the ExecStart= lines, and only that path (no regex in it: | and . are escaped).
  escaped=$(printf '%s' "$program" | sed 's/[][\.*^$|]/\\&/g')
  sed -i "/^ExecStart=/s|$escaped|$stand_in|" "$unit"
  echo "note: $program is not installed; verifying with a stand-in at $stand_in"
fi

# 2. systemd-analyze verify. Its lines about this unit name the unit ("ferryd.service: ...")
# or its file ("/tmp/.../ferryd.service:12: Unknown key ..."); anything else is about other
# units of this machine that systemd loaded on the way (network-online.target's dependencies),
# which this test does not own: shown, not counted. --recursive-errors=one: errors of this
# unit and of its direct dependencies (one that does not exist: "Failed to create
# ferryd.service/start: Unit X not found") make the exit status non-zero, mere warnings about
# other units do not (=no would skip the dependency check altogether, =yes would fail on any
# unit of the machine). --man=no: its man pages need not be installed.
status=0
output=$(SYSTEMD_LOG_COLOR=0 timeout 60 systemd-analyze verify --man=no --recursive-errors=one \
  "$unit" 2>&1) || status=$?
ours=$(printf '%s\n' "$output" | grep -F -e "$unit" -e "$name" || true)
others=$(printf '%s\n' "$output" | grep -v -F -e "$unit" -e "$name" | grep -v '^$' || true)
if [[ -n $others ]]; then
  echo "ignored (other units on this machine):"
  printf '%s\n' "$others" | sed 's/^/  /'
fi
if [[ $status -eq 124 ]]; then
  fail "systemd-analyze verify timed out (60 s)"
elif [[ $status -ne 0 || -n $ours ]]; then
  fail "systemd-analyze verify $name (exit $status):"
  printf '%s\n' "${ours:-(no message)}" | sed 's/^/  /'
else
  echo "ok: systemd-analyze verify $name: nothing to report"
fi

# 3. systemd-analyze security, offline (no running manager needed).
status=0
report=$(SYSTEMD_LOG_COLOR=0 timeout 60 systemd-analyze security --offline=true --no-pager \
  "$unit" 2>&1) || status=$?
overall=$(printf '%s\n' "$report" | grep -F 'Overall exposure level' || true)
score=$(printf '%s\n' "$overall" | sed -n 's/.*: \([0-9][0-9.]*\) .*/\1/p')
if [[ $status -ne 0 || -z $score ]]; then
  fail "systemd-analyze security --offline=true $name (exit $status):"
  printf '%s\n' "$report" | sed 's/^/  /'
else
  echo "still exposed (systemd-analyze security):"
  # The rows marked with a cross ("- " where the locale is not UTF-8), and their share.
  printf '%s\n' "$report" | grep -E '^(✗|-) ' | sed -E 's/^(✗|-) +/  /; s/  +/  /g' || true
  printf '%s\n' "$overall" | sed -E 's/^(→|->) //'
  if awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s > m) }'; then
    fail "exposure $score is above $max_exposure (FERRY_MAX_EXPOSURE)"
  else
    echo "ok: exposure $score <= $max_exposure"
  fi
fi

exit "$failed"
