# Installing and packaging: `cmake --install BUILD [--prefix P]` and the Debian package
# (`make package`, CPack's DEB generator; tests/package/install-test.sh checks both).
#
# What is installed (paths for --prefix /usr, the package's):
#   /usr/bin/{ferryd,ferry,ferry-sim}
#   /etc/ferry/ferryd.toml                 `ferryd print-config` at build time (a conffile)
#   /etc/logrotate.d/ferry                 deploy/logrotate/ferry (a conffile)
#   /lib/systemd/system/ferryd.service     deploy/systemd/ferryd.service.in
#   /usr/share/man/man{1,5,8}/*.gz         from the programs' --help and `ferryd print-config --man`
#   /usr/share/bash-completion/completions/{ferry,ferryd,ferry-sim}, /usr/share/zsh/vendor-completions/_ferry
#   /usr/share/doc/ferry/                  README.md, docs/*.md, examples/ferry-alerts.yml
# The man pages and the config file are made by running the built programs, so they say what
# --help says (cmake/packaging-gen.sh). Not for the fuzz preset, which builds no programs.
if(FERRY_FUZZ)
  return()
endif()

include(GNUInstallDirs)

# packaging-gen.sh runs these; checked here so that a missing one stops the configure step
# (scripts/install-deps.sh installs help2man).
find_program(FERRY_HELP2MAN help2man REQUIRED)
find_program(FERRY_GZIP gzip REQUIRED)
set(_gen sh ${PROJECT_SOURCE_DIR}/cmake/packaging-gen.sh)
set(_man ${CMAKE_BINARY_DIR}/man)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/etc ${_man} ${CMAKE_BINARY_DIR}/completions
     ${CMAKE_BINARY_DIR}/systemd ${CMAKE_BINARY_DIR}/debian)

install(TARGETS ferryd ferry ferry-sim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The default config: every key with its help and default, commented out, and the packaged
# settings (the options given to print-config) set. The unit makes /var/lib/ferry writable
# (StateDirectory=ferry); the log goes to the journal.
set(FERRY_PACKAGED_SETTINGS
    --data /var/lib/ferry/data --cache /var/lib/ferry/cache
    --listen 127.0.0.1:7878 --http-listen 127.0.0.1:7879)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/etc/ferryd.toml
  COMMAND ${_gen} stdout ${CMAKE_BINARY_DIR}/etc/ferryd.toml
          $<TARGET_FILE:ferryd> ${FERRY_PACKAGED_SETTINGS} print-config
  DEPENDS ferryd ${PROJECT_SOURCE_DIR}/cmake/packaging-gen.sh
  COMMENT "Writing etc/ferryd.toml (ferryd print-config)"
  VERBATIM)

# Man pages. ferry-sim has no --version: help2man is given the project's.
set(_man_pages)
foreach(page IN ITEMS
    "ferryd|8|file server with a cache of hot files|ferry(1) ferry-sim(1) ferryd.toml(5)|"
    "ferry|1|list, download and upload files on a ferryd server|ferryd(8)|"
    "ferry-sim|1|replay a request trace through ferryd's cache policies|ferryd(8) ferryd.toml(5)|${PROJECT_VERSION}")
  string(REPLACE "|" ";" page "${page}")
  list(GET page 0 program)
  list(GET page 1 section)
  list(GET page 2 name)
  list(GET page 3 see_also)
  list(GET page 4 version)
  set(out ${_man}/${program}.${section}.gz)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${_gen} help2man ${out} ${section} ${name} ${see_also} $<TARGET_FILE:${program}> ${version}
    DEPENDS ${program} ${PROJECT_SOURCE_DIR}/cmake/packaging-gen.sh
    COMMENT "Writing man/${program}.${section}.gz (help2man)"
    VERBATIM)
  list(APPEND _man_pages ${out})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_command(
  OUTPUT ${_man}/ferryd.toml.5.gz
  COMMAND ${_gen} roff ${_man}/ferryd.toml.5.gz $<TARGET_FILE:ferryd> print-config --man
  DEPENDS ferryd ${PROJECT_SOURCE_DIR}/cmake/packaging-gen.sh
  COMMENT "Writing man/ferryd.toml.5.gz (ferryd print-config --man)"
  VERBATIM)
list(APPEND _man_pages ${_man}/ferryd.toml.5.gz)
install(FILES ${_man}/ferryd.toml.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)

add_custom_target(ferry_install_files ALL DEPENDS ${CMAKE_BINARY_DIR}/etc/ferryd.toml ${_man_pages})

# Shell completions. bash-completion loads a file by the command's name: one file (it defines
# all three completions), and links named ferryd and ferry-sim to it.
configure_file(deploy/completions/ferry.bash ${CMAKE_BINARY_DIR}/completions/ferry COPYONLY)
foreach(link IN ITEMS ferryd ferry-sim)
  file(CREATE_LINK ferry ${CMAKE_BINARY_DIR}/completions/${link} SYMBOLIC)
endforeach()
install(FILES ${CMAKE_BINARY_DIR}/completions/ferry ${CMAKE_BINARY_DIR}/completions/ferryd
              ${CMAKE_BINARY_DIR}/completions/ferry-sim
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES deploy/completions/_ferry DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)

# Documentation (install(DIRECTORY) globs at install time: a new docs/*.md needs no edit here).
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
install(FILES deploy/prometheus/ferry-alerts.yml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The systemd unit, for the build tree (e.g. `systemd-analyze verify`), with the paths of the
# prefix CMake was configured with.
configure_file(deploy/systemd/ferryd.service.in ${CMAKE_BINARY_DIR}/systemd/ferryd.service @ONLY)

# /etc and the unit folder are decided at install time. GNUInstallDirs maps etc to /etc for the
# prefix /usr, but only for the prefix CMake was configured with (/usr/local here), while
# `cmake --install --prefix P` and CPack (/usr) choose the prefix when they install. So the same
# rule is applied again then, and the unit is configured then, with the paths it will run from:
#   prefix /usr (or /): /etc/ferry, /etc/logrotate.d, /lib/systemd/system (Debian 12's folder
#                       for packaged units; /lib is /usr/lib on merged-/usr systems)
#   any other prefix P: P/etc/ferry, P/etc/logrotate.d, P/lib/systemd/system
# An absolute CMAKE_INSTALL_<DIR> given at configure time is used as it is.
string(CONFIGURE [[
  set(_prefix "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/+$" "" _prefix "${_prefix}")
  foreach(_dir IN ITEMS BINDIR SYSCONFDIR)  # the folders the unit and the files below name
    set(_rel "${_ferry_${_dir}}")
    if(IS_ABSOLUTE "${_rel}")
      set(CMAKE_INSTALL_FULL_${_dir} "${_rel}")
    elseif(_prefix MATCHES "^(/usr)?$" AND _dir STREQUAL "SYSCONFDIR")
      set(CMAKE_INSTALL_FULL_${_dir} "/${_rel}")
    else()
      set(CMAKE_INSTALL_FULL_${_dir} "${_prefix}/${_rel}")
    endif()
  endforeach()
  if(_prefix MATCHES "^(/usr)?$")
    set(_unitdir "/lib/systemd/system")
  else()
    set(_unitdir "${_prefix}/lib/systemd/system")
  endif()
  set(CMAKE_INSTALL_PREFIX "${_prefix}")
  configure_file("@PROJECT_SOURCE_DIR@/deploy/systemd/ferryd.service.in"
                 "@CMAKE_BINARY_DIR@/systemd/installed/ferryd.service" @ONLY)
  set(CMAKE_INSTALL_PREFIX "${_ferry_prefix_given}")
  file(INSTALL DESTINATION "${_unitdir}" TYPE FILE
       FILES "@CMAKE_BINARY_DIR@/systemd/installed/ferryd.service")
  file(INSTALL DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/ferry" TYPE FILE
       FILES "@CMAKE_BINARY_DIR@/etc/ferryd.toml")
  file(INSTALL DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d" TYPE FILE
       RENAME ferry FILES "@PROJECT_SOURCE_DIR@/deploy/logrotate/ferry")
]] _ferry_install_etc @ONLY)
set(_ferry_dirs "set(_ferry_prefix_given \"\${CMAKE_INSTALL_PREFIX}\")\n")
foreach(_dir IN ITEMS BINDIR SYSCONFDIR)
  string(APPEND _ferry_dirs "set(_ferry_${_dir} \"${CMAKE_INSTALL_${_dir}}\")\n")
endforeach()
install(CODE "${_ferry_dirs}${_ferry_install_etc}")

# The Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ferry)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ferry team <ferry@localhost>")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "ferry team <ferry@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "file server with a cache of hot files, and its client")
# The Description's first line is the summary (CPack prepends it); then the long text.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "ferryd serves files over its own protocol and HTTP/1.1, with a
cache of hot files in front of its data store (a folder or an S3 bucket). Uploads
are atomic and checksummed end to end; downloads are verified before they land.
ferry is the command-line client; ferry-sim replays request traces through
ferryd's cache policies. The package runs ferryd as the system user ferry, with
its data in /var/lib/ferry (systemd unit ferryd.service).")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # ferry_0.1.0_amd64.deb
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# CPack stages the files under DESTDIR with the prefix /usr itself (not a staging folder as the
# prefix), so the install-time rule above sees /usr and puts the config in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # the release preset's -g1 debug info stays in the build tree
# Depends: adduser (postinst) plus what dpkg-shlibdeps finds the binaries link (libssl3...).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS logrotate)
# Nothing is a conffile unless listed (CPack, unlike debhelper, does not mark /etc files itself).
if(IS_ABSOLUTE "${CMAKE_INSTALL_SYSCONFDIR}")
  set(_etc "${CMAKE_INSTALL_SYSCONFDIR}")
else()
  set(_etc "/${CMAKE_INSTALL_SYSCONFDIR}")
endif()
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "${_etc}/ferry/ferryd.toml\n${_etc}/logrotate.d/ferry\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/debian/conffiles
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # scripts 0755, conffiles 0644
include(CPack)
