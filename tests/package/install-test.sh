#!/usr/bin/env bash
# The Debian package, built and installed for real without touching this machine.
#   tests/package/install-test.sh BUILD_DIR
# (ctest runs it for release builds: tests/CMakeLists.txt, label `package`.)
#
# 1. cpack builds ferry_VERSION_ARCH.deb from BUILD_DIR into a temporary folder.
# 2. Its metadata and contents are checked with dpkg-deb: fields, Depends (libssl3 and adduser
#    among them), every file at its path, the conffiles, the maintainer scripts, the unit's paths,
#    the man pages (they render, and say what --help says), the config file and completions.
# 3. It is installed into a throwaway root: in a private mount and PID namespace, an overlay
#    whose lower layer is / and whose upper layer is a tmpfs (nothing is written to the real
#    /), chrooted into. There: dpkg -i, the user ferry and its folders, the installed ferryd
#    started as ferry with the installed config, a file PUT and GET with the installed client,
#    ferryd stopped by SIGTERM, a reinstall that keeps a changed conffile, dpkg -r, dpkg -P.
#    The namespace, its mounts and any process in it die with this script.
#    Where namespaces or overlayfs are not permitted (not root, no CAP_SYS_ADMIN), or with
#    FERRY_PACKAGE_TEST_NO_CHROOT=1, the extracted ferryd is started with the extracted config
#    instead (PUT, GET, SIGTERM), and the chroot part is reported as skipped.
# 4. The host is checked to have gained no user ferry, no /etc/ferry, no /var/lib/ferry.
# Every step is bounded in time.
# shellcheck disable=SC2016  # the single-quoted bash -c scripts expand their own $1
set -euo pipefail

say() { printf '%s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------------------------------------
# Phase 3, inside the chroot: install, run, remove, purge.
#   install-test.sh --in-chroot DEB VERSION
# ---------------------------------------------------------------------------------------------
in_chroot() {
  local deb=$1 version=$2
  export DEBIAN_FRONTEND=noninteractive
  local t=/ferry-test

  step "chroot: dpkg -i $(basename "$deb")"
  timeout 300 dpkg -i "$deb" </dev/null > $t/dpkg-install.log 2>&1 ||
    { cat $t/dpkg-install.log; fail "dpkg -i failed"; }
  sed 's/^/  | /' $t/dpkg-install.log
  [[ $(dpkg-query -W -f='${Status}' ferry) == "install ok installed" ]] ||
    fail "dpkg -s ferry: not installed"
  ok "installed: $(dpkg-query -W -f='${Package} ${Version} ${Architecture}' ferry)"

  step "chroot: what postinst made"
  id ferry > /dev/null || fail "id ferry: no such user"
  local home shell uid
  IFS=: read -r _ _ uid _ _ home shell < <(getent passwd ferry)
  [[ $home == /var/lib/ferry ]] || fail "ferry's home is $home, not /var/lib/ferry"
  [[ $shell == */nologin || $shell == /bin/false ]] || fail "ferry's shell is $shell: it can log in"
  ((uid < 1000)) || fail "ferry's uid $uid is not a system uid"
  getent group ferry > /dev/null || fail "no group ferry"
  ok "user ferry: $(id ferry), home $home, shell $shell"
  local dir
  for dir in /var/lib/ferry /var/lib/ferry/data /var/lib/ferry/cache /var/log/ferry; do
    [[ -d $dir ]] || fail "$dir is missing"
    [[ $(stat -c '%U:%G %a' "$dir") == "ferry:ferry 750" ]] ||
      fail "$dir is $(stat -c '%U:%G %a' "$dir"), not ferry:ferry 750"
  done
  ok "/var/lib/ferry/{,data,cache} and /var/log/ferry: ferry:ferry 0750"
  [[ $(/usr/bin/ferryd --version) == "ferryd $version" ]] ||
    fail "/usr/bin/ferryd --version says '$(/usr/bin/ferryd --version)'"
  ok "/usr/bin/ferryd --version: ferryd $version"
  dpkg-query -W -f='${Conffiles}\n' ferry | grep -q '^ /etc/ferry/ferryd.toml ' ||
    fail "dpkg does not know /etc/ferry/ferryd.toml as a conffile"
  ok "dpkg lists /etc/ferry/ferryd.toml among ferry's conffiles"
  if command -v man > /dev/null; then
    local page
    for page in "8 ferryd" "1 ferry" "1 ferry-sim" "5 ferryd.toml"; do
      # shellcheck disable=SC2086
      man -w $page > /dev/null 2>&1 || fail "man -w $page: not found"
    done
    ok "man -w finds ferryd(8), ferry(1), ferry-sim(1), ferryd.toml(5): $(man -w ferryd)"
  fi
  if [[ -f /usr/share/bash-completion/bash_completion ]]; then
    local cmd
    for cmd in ferry ferryd ferry-sim; do
      timeout 20 bash -c '. /usr/share/bash-completion/bash_completion
                          _completion_loader "$1"; complete -p "$1"' _ "$cmd" > /dev/null ||
        fail "bash-completion does not load a completion for $cmd"
    done
    local reply
    reply=$(timeout 20 bash -c '. /usr/share/bash-completion/bash_completion
        _completion_loader ferry; COMP_WORDS=(ferry g); COMP_CWORD=1; _ferry; echo "${COMPREPLY[*]}"')
    [[ $reply == get ]] || fail "bash completion of 'ferry g' gave '$reply', not 'get'"
    ok "bash-completion loads completions for ferry, ferryd, ferry-sim; 'ferry g<Tab>' gives get"
  fi
  local target wants=""
  if [[ -x /usr/bin/deb-systemd-helper ]]; then
    # Enabled for the next boot: the [Install] section's links, as systemctl enable makes them.
    # shellcheck disable=SC2013  # WantedBy= lists units separated by spaces
    for target in $(sed -n 's/^WantedBy=//p' /lib/systemd/system/ferryd.service); do
      wants=/etc/systemd/system/$target.wants/ferryd.service
      [[ $(readlink "$wants") == /lib/systemd/system/ferryd.service ]] ||
        fail "ferryd.service is not enabled: no link $wants"
    done
    [[ -n $wants ]] || fail "ferryd.service has no WantedBy= to enable it by"
    ok "ferryd.service enabled for the next boot: $wants"
  fi
  ! pgrep -x ferryd > /dev/null || fail "postinst started ferryd without systemd"
  ok "no ferryd started (systemd is not running here: [ -d /run/systemd/system ] is false)"

  step "chroot: the installed ferryd, as ferry, with /etc/ferry/ferryd.toml"
  rm -f /var/lib/ferry/ready
  env -i PATH=/usr/bin:/bin HOME=/var/lib/ferry LC_ALL=C.UTF-8 \
    setpriv --reuid=ferry --regid=ferry --init-groups -- \
    /usr/bin/ferryd --config /etc/ferry/ferryd.toml --listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 --ready-file /var/lib/ferry/ready \
    > $t/ferryd.log 2>&1 &
  local pid=$! waited=0
  until [[ -s /var/lib/ferry/ready ]]; do
    kill -0 $pid 2> /dev/null || { cat $t/ferryd.log; fail "ferryd exited at start"; }
    ((waited++ < 200)) || { cat $t/ferryd.log; fail "ferryd not listening after 20 s"; }
    sleep 0.1
  done
  local address door http
  { read -r address; read -r door http; } < /var/lib/ferry/ready
  [[ $door == http ]] || fail "the ready file names no HTTP address"
  [[ $(stat -c %U "/proc/$pid") == ferry ]] || fail "ferryd runs as $(stat -c %U "/proc/$pid")"
  ok "ferryd (pid $pid, user ferry) listening on $address, HTTP on $http"

  step "chroot: PUT and GET with /usr/bin/ferry"
  local client=(env -i PATH=/usr/bin:/bin "HOME=$t/home" LC_ALL=C.UTF-8 timeout 30 /usr/bin/ferry
                --server "$address" -q)
  mkdir -p $t/home
  head -c 3000000 /dev/urandom > $t/upload.bin
  "${client[@]}" put $t/upload.bin package-test/upload.bin || fail "ferry put failed"
  ok "ferry put upload.bin package-test/upload.bin"
  cmp -s $t/upload.bin /var/lib/ferry/data/package-test/upload.bin ||
    fail "the upload is not in /var/lib/ferry/data/package-test/upload.bin"
  [[ $(stat -c %U /var/lib/ferry/data/package-test/upload.bin) == ferry ]] ||
    fail "the stored file is not owned by ferry"
  ok "stored as /var/lib/ferry/data/package-test/upload.bin (owner ferry), bytes equal"
  "${client[@]}" get package-test/upload.bin -o $t/download.bin || fail "ferry get failed"
  cmp -s $t/upload.bin $t/download.bin || fail "the download differs from the upload"
  ok "ferry get package-test/upload.bin: bytes equal"
  "${client[@]}" ls package-test/ | grep -q 'package-test/upload.bin' || fail "ferry ls misses it"
  ok "ferry ls package-test/ lists it"
  if command -v curl > /dev/null; then
    timeout 30 curl -fsS "http://$http/files/package-test/upload.bin" -o $t/http.bin ||
      fail "curl GET failed"
    cmp -s $t/upload.bin $t/http.bin || fail "the HTTP download differs"
    ok "curl http://$http/files/package-test/upload.bin: bytes equal"
  fi

  step "chroot: SIGTERM"
  kill -TERM $pid
  waited=0
  while kill -0 $pid 2> /dev/null; do
    if ((waited++ >= 200)); then
      kill -KILL $pid
      cat $t/ferryd.log
      fail "ferryd still running 20 s after SIGTERM"
    fi
    sleep 0.1
  done
  local status=0
  wait $pid || status=$?
  ((status == 0)) || { cat $t/ferryd.log; fail "ferryd exited with status $status after SIGTERM"; }
  ok "ferryd stopped by SIGTERM, exit status 0"

  step "chroot: a reinstall keeps a changed conffile"
  echo "# changed by the package test" >> /etc/ferry/ferryd.toml
  # From here to dpkg -r, the maintainer scripts take their systemd branches (daemon-reload,
  # stop, start), which fail here (no systemd answers) and must not fail the scripts.
  mkdir -p /run/systemd/system
  timeout 300 dpkg -i "$deb" </dev/null > $t/dpkg-reinstall.log 2>&1 ||
    { cat $t/dpkg-reinstall.log; fail "dpkg -i (again) failed"; }
  sed 's/^/  | /' $t/dpkg-reinstall.log
  tail -n 1 /etc/ferry/ferryd.toml | grep -q 'changed by the package test' ||
    fail "the reinstall replaced the changed /etc/ferry/ferryd.toml"
  ok "dpkg -i again (prerm upgrade, postinst configure with the user present) kept the change"

  step "chroot: dpkg -r ferry"
  timeout 120 dpkg -r ferry </dev/null > $t/dpkg-remove.log 2>&1 ||
    { cat $t/dpkg-remove.log; fail "dpkg -r ferry failed"; }
  sed 's/^/  | /' $t/dpkg-remove.log
  [[ ! -e /usr/bin/ferryd && ! -e /usr/bin/ferry ]] || fail "dpkg -r left the programs"
  [[ -f /etc/ferry/ferryd.toml ]] || fail "dpkg -r removed the conffile /etc/ferry/ferryd.toml"
  [[ $(dpkg-query -W -f='${Status}' ferry) == "deinstall ok config-files" ]] ||
    fail "after dpkg -r: $(dpkg-query -W -f='${Status}' ferry)"
  ok "removed: programs gone, /etc/ferry/ferryd.toml kept (config-files state)"
  ok "the scripts' systemd branches (with /run/systemd/system, no systemd) did not fail them"
  rmdir /run/systemd/system

  step "chroot: dpkg -P ferry"
  timeout 120 dpkg -P ferry </dev/null > $t/dpkg-purge.log 2>&1 ||
    { cat $t/dpkg-purge.log; fail "dpkg -P ferry failed"; }
  sed 's/^/  | /' $t/dpkg-purge.log
  [[ ! -e /etc/ferry ]] || fail "dpkg -P left /etc/ferry: $(ls -A /etc/ferry)"
  [[ ! -e /etc/logrotate.d/ferry ]] || fail "dpkg -P left /etc/logrotate.d/ferry"
  [[ ! -e /var/log/ferry ]] || fail "dpkg -P left /var/log/ferry"
  [[ ! -e /etc/systemd/system/multi-user.target.wants/ferryd.service &&
     ! -e /etc/systemd/system/ferryd.service ]] || fail "dpkg -P left ferryd.service links"
  ! dpkg-query -W ferry > /dev/null 2>&1 || fail "dpkg still knows ferry after dpkg -P"
  cmp -s $t/upload.bin /var/lib/ferry/data/package-test/upload.bin ||
    fail "dpkg -P deleted the stored files in /var/lib/ferry"
  id ferry > /dev/null || fail "dpkg -P deleted the user ferry"
  ok "purged: /etc/ferry, /etc/logrotate.d/ferry, /var/log/ferry and the unit's links gone;" \
     "/var/lib/ferry (the data) and the user ferry kept"
}

# ---------------------------------------------------------------------------------------------
# Phase 2, in the new mount and PID namespaces (this script is PID 1 there): the throwaway root.
#   install-test.sh --in-namespace WORK DEB VERSION
# ---------------------------------------------------------------------------------------------
in_namespace() {
  local work=$1 deb=$2 version=$3
  local layers=$work/layers root=$work/root
  mkdir -p "$layers" "$root"
  mount -t tmpfs -o size=4g,mode=0755 ferry-package-test "$layers"
  mkdir "$layers/upper" "$layers/work"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$layers/upper,workdir=$layers/work" "$root"
  mount -t proc proc "$root/proc"             # this PID namespace's processes only
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=0755 run "$root/run"  # no /run/systemd/system: systemd is not PID 1
  mount -t tmpfs -o mode=1777 tmp "$root/tmp"
  mkdir -p "$root/ferry-test"
  cp "$deb" "$root/ferry-test/"
  cp "$0" "$root/ferry-test/install-test.sh"
  ok "throwaway root: overlay of / on $root (upper layer: tmpfs), /proc, /dev, /run, /tmp"
  chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LC_ALL=C.UTF-8 TERM=dumb \
    bash /ferry-test/install-test.sh --in-chroot "/ferry-test/$(basename "$deb")" "$version"
}

case "${1:-}" in
  --in-chroot) shift; in_chroot "$@"; exit 0 ;;
  --in-namespace) shift; in_namespace "$@"; exit 0 ;;
  "" | -*) echo "usage: $0 BUILD_DIR" >&2; exit 2 ;;
esac

# ---------------------------------------------------------------------------------------------
# Phase 1, on the host.
# ---------------------------------------------------------------------------------------------
build=$(cd "$1" && pwd)
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
[[ -f $build/CPackConfig.cmake ]] || fail "$build/CPackConfig.cmake: not a configured build folder"

work=$(mktemp -d /tmp/ferry-package-test.XXXXXX)
extracted_pid=""
namespace_pid=""  # timeout's, whose child is unshare
cleanup() {
  local status=$?
  [[ -z $extracted_pid ]] || kill -KILL "$extracted_pid" 2> /dev/null || true
  if [[ -n $namespace_pid ]]; then
    pkill -KILL -P "$namespace_pid" 2> /dev/null || true
    wait "$namespace_pid" 2> /dev/null || true
  fi
  # The namespace's mounts went with it; anything still mounted under $work is a bug, and
  # rm -rf must not descend into it.
  if grep -q " $work/" /proc/self/mountinfo; then
    echo "FAIL: mounts left under $work" >&2
    status=1
  else
    rm -rf "$work"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

host_state() {
  local user=no etc=no var=no
  getent passwd ferry > /dev/null && user=yes
  [[ -e /etc/ferry ]] && etc=yes
  [[ -e /var/lib/ferry ]] && var=yes
  echo "user ferry: $user, /etc/ferry: $etc, /var/lib/ferry: $var"
}
host_before=$(host_state)
if [[ $host_before != "user ferry: no, /etc/ferry: no, /var/lib/ferry: no" ]]; then
  say "note: before the test this host already has: $host_before (the test can only check it gains nothing)"
fi

version=$("$build/bin/ferryd" --version | awk '{ print $2 }')
arch=$(dpkg --print-architecture)

step "cpack -G DEB"
timeout 400 cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/cpack" \
  > "$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$work/cpack/ferry_${version}_${arch}.deb
[[ -f $deb ]] || { ls -l "$work/cpack"; fail "no $(basename "$deb") (CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)"; }
ok "$(basename "$deb"), $(du -k "$deb" | cut -f1) KiB"

step "dpkg-deb -I: the control fields"
dpkg-deb -I "$deb" > "$work/info" || fail "dpkg-deb -I failed"
sed 's/^/  | /' "$work/info"
field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == ferry ]] || fail "Package: $(field Package)"
[[ $(field Version) == "$version" ]] || fail "Version: $(field Version), ferryd --version: $version"
[[ $(field Architecture) == "$arch" ]] || fail "Architecture: $(field Architecture)"
[[ $(field Section) == net ]] || fail "Section: $(field Section)"
[[ $(field Maintainer) == "ferry team <ferry@localhost>" ]] || fail "Maintainer: $(field Maintainer)"
[[ -n $(field Description) ]] || fail "no Description"
depends=$(field Depends)
for dep in libssl3 adduser libc6; do
  [[ ", $depends," =~ ,\ ${dep}[\ ,] ]] || fail "Depends lacks $dep: $depends"
done
[[ $(field Recommends) =~ (^|,\ )logrotate($|,|\ ) ]] || fail "Recommends lacks logrotate"
ok "Package ferry, Version $version, Architecture $arch, Section net, Maintainer, Recommends logrotate"
ok "Depends: $depends"

step "dpkg-deb -c: the files"
dpkg-deb -c "$deb" > "$work/contents" || fail "dpkg-deb -c failed"
# Paths without the leading "./" (and without "-> target" for links), one a line.
awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); sub(/ -> .*/, ""); sub(/^\.\//, "/"); print }' \
  "$work/contents" | sed 's:/$::' > "$work/paths"
expected=(
  /usr/bin/ferryd /usr/bin/ferry /usr/bin/ferry-sim
  /etc/ferry/ferryd.toml /etc/logrotate.d/ferry
  /lib/systemd/system/ferryd.service
  /usr/share/man/man8/ferryd.8.gz /usr/share/man/man1/ferry.1.gz
  /usr/share/man/man1/ferry-sim.1.gz /usr/share/man/man5/ferryd.toml.5.gz
  /usr/share/bash-completion/completions/ferry /usr/share/bash-completion/completions/ferryd
  /usr/share/bash-completion/completions/ferry-sim /usr/share/zsh/vendor-completions/_ferry
  /usr/share/doc/ferry/README.md /usr/share/doc/ferry/examples/ferry-alerts.yml
)
for doc in "$source_dir"/docs/*.md; do expected+=("/usr/share/doc/ferry/$(basename "$doc")"); done
for path in "${expected[@]}"; do
  grep -qxF "$path" "$work/paths" || fail "$path is not in the package"
done
ok "all ${#expected[@]} expected files at their paths (programs, config, logrotate, unit, 4 man" \
   "pages, completions, README.md and docs/*.md, examples/ferry-alerts.yml)"
grep -q '/usr/local\|/usr/etc\|/usr/lib/systemd' "$work/paths" &&
  fail "paths outside Debian's places: $(grep '/usr/local\|/usr/etc\|/usr/lib/systemd' "$work/paths")"
ok "nothing under /usr/local, /usr/etc or /usr/lib/systemd"

dpkg-deb -x "$deb" "$work/x"
for link in ferryd ferry-sim; do
  [[ $(readlink "$work/x/usr/share/bash-completion/completions/$link") == ferry ]] ||
    fail "completions/$link is not a link to ferry"
done
ok "completions/ferryd and completions/ferry-sim are links to completions/ferry"
for prog in ferryd ferry ferry-sim; do
  file -b "$work/x/usr/bin/$prog" | grep -q ', stripped' || fail "/usr/bin/$prog is not stripped"
done
ok "the programs are stripped"

step "dpkg-deb -e: conffiles and maintainer scripts"
dpkg-deb -e "$deb" "$work/control"
[[ -f $work/control/conffiles ]] || fail "the package has no conffiles"
sed 's/^/  | /' "$work/control/conffiles"
for conffile in /etc/ferry/ferryd.toml /etc/logrotate.d/ferry; do
  grep -qxF "$conffile" "$work/control/conffiles" || fail "conffiles lacks $conffile"
done
while read -r conffile; do
  [[ -f $work/x$conffile ]] || fail "conffile $conffile is not in the package"
done < "$work/control/conffiles"
ok "conffiles: /etc/ferry/ferryd.toml and /etc/logrotate.d/ferry, both in the package"
for script in postinst prerm postrm; do
  [[ -f $work/control/$script ]] || fail "no $script"
  [[ $(stat -c %a "$work/control/$script") == 755 ]] || fail "$script is not mode 0755"
  sh -n "$work/control/$script" || fail "$script: sh -n failed"
  head -n 1 "$work/control/$script" | grep -qx '#!/bin/sh' || fail "$script does not start with #!/bin/sh"
done
ok "postinst, prerm, postrm: #!/bin/sh, mode 0755, sh -n passes"

step "the installed files' contents"
unit=$work/x/lib/systemd/system/ferryd.service
grep -q '^ExecStart=/usr/bin/ferryd' "$unit" || fail "the unit's ExecStart is not /usr/bin/ferryd: $(grep ExecStart "$unit")"
grep -q '/etc/ferry/ferryd.toml' "$unit" || fail "the unit does not name /etc/ferry/ferryd.toml"
! grep -n '@[A-Za-z_]*@\|/usr/local\|/usr/etc' "$unit" || fail "the unit has unconfigured or wrong paths"
ok "ferryd.service: ExecStart=/usr/bin/ferryd, config /etc/ferry/ferryd.toml, no @VAR@ left"
! grep -rlF "$build" "$work/x/etc" "$work/x/lib" "$work/x/usr/share" ||
  fail "installed text files name the build folder $build"
ok "no installed text file names the build folder"
config=$work/x/etc/ferry/ferryd.toml
grep -qE '^data *= *"/var/lib/ferry/data"' "$config" || fail "ferryd.toml does not set data = \"/var/lib/ferry/data\""
grep -qE '^cache *= *"/var/lib/ferry/cache"' "$config" || fail "ferryd.toml does not set cache = \"/var/lib/ferry/cache\""
# Both doors on loopback: set so in the file, or (print-config writes a setting equal to the
# default as a comment) commented out with a loopback default.
for key in listen http-listen; do
  if grep -qE "^$key *=" "$config"; then
    grep -qE "^$key *= *\"127\\.0\\.0\\.1:" "$config" || fail "ferryd.toml: $(grep -E "^$key *=" "$config")"
  else
    grep -qE "^# *$key *= *\"127\\.0\\.0\\.1:" "$config" ||
      fail "ferryd.toml sets no $key, and its default is not on 127.0.0.1"
  fi
done
# Every option of ferryd --help is a key of the file (set or commented out).
missing=()
for option in $("$build/bin/ferryd" --help | sed -n 's/^  \(-[a-z],\)\{0,1\}--\([a-z0-9-]*\).*/\2/p'); do
  case $option in help | version | config) continue ;; esac
  grep -qE "^#? *$option *=" "$config" || missing+=("$option")
done
((${#missing[@]} == 0)) || fail "ferryd.toml lacks the keys: ${missing[*]}"
ok "ferryd.toml: data and cache in /var/lib/ferry, listen and http-listen on 127.0.0.1;" \
   "every other option of --help present"
for page in "$work"/x/usr/share/man/man*/*.gz; do
  gzip -t "$page" || fail "$page: not gzip"
  zcat "$page" | groff -man -Tutf8 -ww -z 2> "$work/groff.err" || fail "$page: groff failed"
  [[ ! -s $work/groff.err ]] || { cat "$work/groff.err"; fail "$(basename "$page"): groff warnings"; }
done
if command -v man > /dev/null; then
  for page in "$work"/x/usr/share/man/man*/*.gz; do
    MANWIDTH=250 timeout 20 man -l "$page" > "$work/$(basename "$page").txt" 2> "$work/man.err" ||
      fail "man -l $(basename "$page") failed"
    [[ ! -s $work/man.err ]] || { cat "$work/man.err"; fail "man -l $(basename "$page"): warnings"; }
  done
  # One truth: every option of ferryd --help, and every ferry subcommand, is in the pages.
  for option in $("$build/bin/ferryd" --help | sed -n 's/^  \(-[a-z],\)\{0,1\}\(--[a-z0-9-]*\).*/\2/p'); do
    grep -q -- "$option" "$work/ferryd.8.gz.txt" || fail "ferryd.8 lacks $option"
  done
  for sub in $("$build/bin/ferry" --help | awk '/^Subcommands:$/ { on = 1; next } on && NF == 0 { exit } on { print $1 }'); do
    grep -q "^   ferry $sub\$" "$work/ferry.1.gz.txt" || fail "ferry.1 has no section for ferry $sub"
  done
  grep -q '^NAME' "$work/ferryd.toml.5.gz.txt" || fail "ferryd.toml.5 has no NAME section"
  ok "man -l renders ferryd.8, ferry.1, ferry-sim.1, ferryd.toml.5 without warnings;" \
     "ferryd.8 has every ferryd option, ferry.1 a section per subcommand"
else
  ok "the man pages are gzip files that groff formats without warnings (man is not installed)"
fi
bash -n "$work/x/usr/share/bash-completion/completions/ferry" || fail "the bash completion: bash -n failed"
if command -v zsh > /dev/null; then
  zsh -n "$work/x/usr/share/zsh/vendor-completions/_ferry" || fail "the zsh completion: zsh -n failed"
  ok "completions: bash -n and zsh -n pass"
else
  ok "the bash completion passes bash -n (zsh is not installed: _ferry unchecked)"
fi

# Can this machine make a throwaway root? (root, CAP_SYS_ADMIN, overlayfs, PID namespaces)
probe_error=""
if [[ -n ${FERRY_PACKAGE_TEST_NO_CHROOT:-} ]]; then
  probe_error="FERRY_PACKAGE_TEST_NO_CHROOT is set"
elif [[ $(id -u) != 0 ]]; then
  probe_error="not root"
elif ! command -v chroot > /dev/null || ! command -v unshare > /dev/null; then
  probe_error="no chroot or unshare"
else
  mkdir -p "$work/probe"
  if ! probe_error=$(timeout 20 unshare --mount --pid --fork --kill-child --propagation private \
      bash -c 'set -e; mount -t tmpfs probe "$1"; mkdir "$1/u" "$1/w" "$1/m"
               mount -t overlay overlay -o "lowerdir=/,upperdir=$1/u,workdir=$1/w" "$1/m"
               test -x "$1/m/usr/bin/dpkg"; touch "$1/m/etc/ferry-probe"
               test ! -e /etc/ferry-probe' _ "$work/probe" 2>&1); then
    probe_error=${probe_error:-"unshare or overlayfs failed"}
  else
    probe_error=""
  fi
fi

if [[ -z $probe_error ]]; then
  step "a throwaway root (mount + PID namespace, overlay of /, chroot)"
  # --kill-child: when unshare dies (killed by timeout, or by cleanup), the namespace's first
  # process gets SIGKILL, and with it every process in the namespace and then its mounts.
  timeout -s KILL 500 unshare --mount --pid --fork --kill-child --propagation private \
    bash "$self" --in-namespace "$work" "$deb" "$version" &
  namespace_pid=$!
  wait "$namespace_pid" || fail "the install in the throwaway root failed (above)"
  namespace_pid=""
else
  step "the extracted package (no throwaway root here: $probe_error)"
  say "SKIP: the chroot install (dpkg -i, postinst, the user ferry, dpkg -r/-P) needs root," \
      "unshare and overlayfs: $probe_error"
  mkdir -p "$work/run/data" "$work/run/cache"
  "$work/x/usr/bin/ferryd" --config "$work/x/etc/ferry/ferryd.toml" --listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 --data "$work/run/data" --cache "$work/run/cache" \
    --ready-file "$work/run/ready" > "$work/run/ferryd.log" 2>&1 &
  extracted_pid=$!
  waited=0
  until [[ -s $work/run/ready ]]; do
    kill -0 $extracted_pid 2> /dev/null || { cat "$work/run/ferryd.log"; fail "the extracted ferryd exited at start"; }
    ((waited++ < 200)) || { cat "$work/run/ferryd.log"; fail "the extracted ferryd not listening after 20 s"; }
    sleep 0.1
  done
  read -r address < "$work/run/ready"
  ok "the extracted ferryd, with the extracted ferryd.toml (paths overridden), on $address"
  head -c 3000000 /dev/urandom > "$work/upload.bin"
  client=(env -u FERRY_SERVER -u FERRY_TOKEN -u FERRY_CONFIG HOME="$work" timeout 30
          "$work/x/usr/bin/ferry" --server "$address" -q)
  "${client[@]}" put "$work/upload.bin" package-test/upload.bin || fail "ferry put failed"
  "${client[@]}" get package-test/upload.bin -o "$work/download.bin" || fail "ferry get failed"
  cmp -s "$work/upload.bin" "$work/download.bin" || fail "the download differs"
  cmp -s "$work/upload.bin" "$work/run/data/package-test/upload.bin" || fail "the stored file differs"
  ok "the extracted ferry: PUT and GET, bytes equal, stored in the data folder"
  kill -TERM $extracted_pid
  status=0
  timeout 20 tail --pid=$extracted_pid -f /dev/null || fail "ferryd still running 20 s after SIGTERM"
  wait $extracted_pid || status=$?
  extracted_pid=""
  ((status == 0)) || fail "ferryd exited with status $status after SIGTERM"
  ok "ferryd stopped by SIGTERM, exit status 0"
fi

step "the host is untouched"
host_after=$(host_state)
[[ $host_after == "$host_before" ]] || fail "the host changed: before: $host_before; after: $host_after"
ok "$host_after (as before)"
if [[ -n $probe_error ]]; then
  say "PASS (the chroot install was skipped: $probe_error)"
else
  say "PASS"
fi
