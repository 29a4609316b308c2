#!/bin/sh
# Build-time generators for cmake/Packaging.cmake: the default config file and the man pages,
# all made by running the freshly built programs, so the help text, the man pages and the
# config file cannot disagree (one truth: the programs' own option tables).
#
#   packaging-gen.sh stdout  OUT PROGRAM ARG...
#       PROGRAM's standard output to OUT (e.g. `ferryd print-config`).
#   packaging-gen.sh roff    OUT.gz PROGRAM ARG...
#       PROGRAM prints a man page (e.g. `ferryd print-config --man`); gzipped to OUT.gz.
#   packaging-gen.sh help2man OUT.gz SECTION NAME SEE_ALSO PROGRAM [VERSION]
#       help2man on PROGRAM's --help (and --version, unless VERSION is given), with a
#       SUBCOMMANDS section made of each `PROGRAM SUB --help` for the subcommands that
#       `PROGRAM --help` lists, and a SEE ALSO section (SEE_ALSO: "ferry(1) ferryd(8)"; "" for
#       none); gzipped to OUT.gz.
#
# Every output is written to a temporary file and renamed into place, so a failed run never
# leaves a file that looks up to date. Man pages are compressed with `gzip -9n` (Debian
# policy: maximum compression, no name or time stamp, so the bytes are reproducible).
set -eu

# The programs' text, not the builder's locale; and no user config or server from the
# environment can leak into a generated file.
LC_ALL=C.UTF-8
export LC_ALL
unset FERRY_SERVER FERRY_TOKEN FERRY_CONFIG || true

die() { echo "packaging-gen: $*" >&2; exit 1; }

# gzip_to OUT.gz FILE: FILE compressed into OUT.gz (atomically), FILE removed.
gzip_to() {
  gzip -9n -c "$2" > "$1.tmp" || die "gzip $2 failed"
  mv -f "$1.tmp" "$1"
  rm -f "$2"
}

# roff_escape: stdin to stdout, made safe as *roff text (backslashes; a line starting with
# . or ' would be a request).
roff_escape() {
  sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

# subcommand_section PROGRAM: the include file's SUBCOMMANDS section (help2man --include).
# CLI11 prints, per subcommand: a description, "Usage: ...", then blocks headed "Positionals:"
# and "Options:" whose items are "  NAME  help" (long names put the help on the next line),
# then the program's footer, which the top-level page already has and is left out here.
subcommand_section() {
  subs=$("$1" --help | awk '
    /^Subcommands:$/ { on = 1; next }
    on && NF == 0 { exit }
    on && /^  [^ ]/ { print $1 }')
  [ -n "$subs" ] || return 0
  printf '[SUBCOMMANDS]\n'
  prog_name=$(basename "$1")
  for sub in $subs; do
    printf '.SS "%s %s"\n' "$prog_name" "$sub"
    "$1" "$sub" --help | roff_escape | awk '
      function flush() { if (tag != "") { print ".TP"; print "\\fB" tag "\\fR"; print text }
                         tag = ""; text = "" }
      # A block heading ("Options:"); the blank line after the last block ends the help.
      /^[A-Z][A-Za-z ]*:$/ { flush(); print ".PP"; print "\\fI" $0 "\\fR"; inblock = 1; blank = 0; next }
      NF == 0 { flush(); if (inblock) { blank = 1 } else { print ".PP" }; next }
      blank { exit }
      # An item: "  -o,--output TEXT            help", or its name alone on the line (the
      # help follows on a line indented to the help column).
      inblock && /^  [^ ]/ {
        flush()
        line = substr($0, 3)
        i = match(line, /  +/)
        if (i) { tag = substr(line, 1, i - 1); text = substr(line, i + RLENGTH) }
        else { tag = line; text = "" }
        gsub(/-/, "\\-", tag)
        next
      }
      inblock && /^   +[^ ]/ { sub(/^ +/, ""); text = (text == "" ? $0 : text " " $0); next }
      /^Usage: / { sub(/^Usage: /, ""); gsub(/-/, "\\-"); print ".PP"; print "Usage: \\fB" $0 "\\fR"; next }
      { print }
      END { flush() }'
  done
}

mode=${1:-}
[ $# -ge 1 ] && shift
case "$mode" in
  stdout)
    [ $# -ge 2 ] || die "usage: stdout OUT PROGRAM ARG..."
    out=$1; shift
    "$@" > "$out.tmp" || { rm -f "$out.tmp"; die "$* failed"; }
    [ -s "$out.tmp" ] || { rm -f "$out.tmp"; die "$* printed nothing"; }
    mv -f "$out.tmp" "$out"
    ;;
  roff)
    [ $# -ge 2 ] || die "usage: roff OUT.gz PROGRAM ARG..."
    out=$1; shift
    "$@" > "$out.roff" || { rm -f "$out.roff"; die "$* failed"; }
    grep -q '^\.TH ' "$out.roff" || { rm -f "$out.roff"; die "$* printed no .TH line: not a man page"; }
    gzip_to "$out" "$out.roff"
    ;;
  help2man)
    [ $# -ge 5 ] || die "usage: help2man OUT.gz SECTION NAME SEE_ALSO PROGRAM [VERSION]"
    out=$1 section=$2 name=$3 see_also=$4 program=$5 version=${6:-}
    include="$out.h2m"
    {
      subcommand_section "$program"
      if [ -n "$see_also" ]; then
        printf '[SEE ALSO]\n'
        first=1
        for page in $see_also; do
          [ $first = 1 ] || printf ',\n'
          printf '.BR %s "(%s)"' "${page%%(*}" "$(echo "$page" | sed 's/.*(\(.*\))/\1/')"
          first=0
        done
        printf '\n'
      fi
    } > "$include" || die "could not list the subcommands of $program"
    set -- --no-info --section "$section" --name "$name" --include "$include" \
      --output "$out.roff"
    [ -z "$version" ] || set -- "$@" --version-string "$version"
    help2man "$@" "$program" || { rm -f "$out.roff" "$include"; die "help2man $program failed"; }
    rm -f "$include"
    gzip_to "$out" "$out.roff"
    ;;
  *)
    die "usage: packaging-gen.sh stdout|roff|help2man ..."
    ;;
esac
