# Native libraries found through pkg-config, linked dynamically (the default) or statically
# (NEXURE_STATIC_DEPS=ON: what the prebuilt addon that npm ships is built with, so that it needs
# nothing beyond glibc; napi/README.md, "Prebuilt addon").
#
# nexure_native_library(<PREFIX> <module>... [OPTIONAL] [STATIC_OPTIONAL])
#   Finds the pkg-config modules and defines the target PkgConfig::<PREFIX> and <PREFIX>_FOUND, as
#   pkg_check_modules(<PREFIX> REQUIRED IMPORTED_TARGET <module>...) does; with OPTIONAL a library
#   that is not installed is no error (<PREFIX>_FOUND is FALSE, e.g. for an AUTO feature). With NEXURE_STATIC_DEPS
#   the target links the static archives (lib<name>.a) of `pkg-config --static --libs`, private
#   dependencies included; glibc's own libraries (c, m, pthread, dl, rt, util) stay dynamic. Each
#   archive must be able to go into a shared object: a missing archive is a configure error, and
#   each is linked whole into a throw-away shared object as the addon links it (--exclude-libs,ALL
#   makes their symbols local, so non-PIC references to them are fine). When that fails (e.g.
#   libnuma.a's local-exec TLS), with STATIC_OPTIONAL the library is left out of a static build:
#   <PREFIX>_FOUND is then FALSE, PkgConfig::<PREFIX> does not exist, and the code that uses it
#   must work without it (libnuma: alloc/numa.cc); without STATIC_OPTIONAL it is a warning naming
#   the object, and the real link decides (only the objects the addon uses are pulled in:
#   libzstd.a's dictionary builder cover.o fails the check, its compressor does not).
#   Every new native dependency (zlib, libbrotli, libzstd, ...) is found with this function, so that
#   it follows the static build without further work.
#
# nexure_link_runtime_statically(<target>)
#   With NEXURE_STATIC_DEPS, links libstdc++ and libgcc into <target> (-static-libstdc++
#   -static-libgcc), and drops the unreferenced sections (--gc-sections): the parts of libstdc++
#   nothing calls would otherwise raise the glibc the module needs (std::random_device's
#   arc4random is glibc 2.36). The addon calls it.
#
# What went in and what was left out is written to <build>/nexure-static-deps.json (read by
# napi/scripts/prebuild.cjs for the prebuilt's manifest).

option(NEXURE_STATIC_DEPS
       "Link liburing, libstdc++, libgcc and the other native libraries statically (the prebuilt addon: it then needs only glibc); libraries without a position-independent archive are left out where optional (libnuma), else an error"
       OFF)

# glibc's libraries: always dynamic (a static glibc inside a shared object does not work).
set(_nexure_glibc_libraries c m pthread dl rt util resolv)
set_property(GLOBAL PROPERTY NEXURE_STATIC_ARCHIVES "")
set_property(GLOBAL PROPERTY NEXURE_STATIC_LEFT_OUT "")

# _nexure_archive_is_pic(<archive> <result var> <reason var>): links every object of the archive
# into a throw-away shared object, its symbols made local as in the addon's link. An object that
# cannot go into one (e.g. libnuma.a's local-exec TLS, relocation R_X86_64_TPOFF32) makes the
# linker refuse; its message is the reason.
function(_nexure_archive_is_pic archive out reason)
  string(MAKE_C_IDENTIFIER "${archive}" _id)
  set(_so "${CMAKE_BINARY_DIR}/CMakeFiles/nexure-pic-check/${_id}.so")
  file(MAKE_DIRECTORY "${CMAKE_BINARY_DIR}/CMakeFiles/nexure-pic-check")
  execute_process(
    COMMAND ${CMAKE_C_COMPILER} -shared -nostdlib -Wl,--exclude-libs,ALL -o "${_so}"
            -Wl,--whole-archive "${archive}" -Wl,--no-whole-archive
    RESULT_VARIABLE _rc
    OUTPUT_VARIABLE _out
    ERROR_VARIABLE _out)
  file(REMOVE "${_so}")
  if(_rc EQUAL 0)
    set(${out} TRUE PARENT_SCOPE)
    set(${reason} "" PARENT_SCOPE)
  else()
    string(REGEX MATCH "[^\n]*relocation [^\n]*can not be used[^\n]*" _first "${_out}")
    if(_first STREQUAL "")
      string(STRIP "${_out}" _first)
    endif()
    set(${out} FALSE PARENT_SCOPE)
    set(${reason} "${_first}" PARENT_SCOPE)
  endif()
endfunction()

macro(nexure_native_library _nx_prefix)
  cmake_parse_arguments(_nx "OPTIONAL;STATIC_OPTIONAL" "" "" ${ARGN})
  if(_nx_OPTIONAL)
    set(_nx_required QUIET)
  else()
    set(_nx_required REQUIRED)
  endif()
  if(NOT NEXURE_STATIC_DEPS)
    pkg_check_modules(${_nx_prefix} ${_nx_required} IMPORTED_TARGET ${_nx_UNPARSED_ARGUMENTS})
  else()
    _nexure_static_library(${_nx_prefix} "${_nx_STATIC_OPTIONAL}" ${_nx_required}
                           ${_nx_UNPARSED_ARGUMENTS})
  endif()
endmacro()

# The static half of nexure_native_library: a function, so that only PkgConfig::<PREFIX> and
# <PREFIX>_FOUND reach the caller (pkg-config's own variables are cached).
function(_nexure_static_library prefix optional required)
  set(_modules ${ARGN})
  pkg_check_modules(${prefix} ${required} ${_modules})
  if(NOT ${prefix}_FOUND)
    set(${prefix}_FOUND FALSE PARENT_SCOPE)
    return()
  endif()
  set(_libs "")
  set(_archives "")
  set(_problem "")
  set(_not_pic "")
  foreach(_name IN LISTS ${prefix}_STATIC_LIBRARIES)
    if(_name IN_LIST _nexure_glibc_libraries)
      list(APPEND _libs "${_name}")
      continue()
    endif()
    find_library(NEXURE_STATIC_${prefix}_${_name} NAMES "lib${_name}.a"
                 HINTS ${${prefix}_STATIC_LIBRARY_DIRS})
    set(_archive "${NEXURE_STATIC_${prefix}_${_name}}")
    if(NOT _archive)
      set(_problem "lib${_name}.a (of pkg-config module ${_modules}) was not found")
      break()
    endif()
    _nexure_archive_is_pic("${_archive}" _pic _why)
    if(NOT _pic)
      set(_not_pic "${_archive} cannot go whole into a shared object (${_why})")
      if(optional)
        set(_problem "${_not_pic}")
        break()
      endif()
      message(WARNING "NEXURE_STATIC_DEPS: ${_not_pic}; the link fails if the addon uses that "
                      "object (then install an archive built with -fPIC)")
    endif()
    list(APPEND _libs "${_archive}")
    list(APPEND _archives "${_archive}")
  endforeach()

  if(NOT _problem STREQUAL "")
    if(optional)
      message(STATUS "NEXURE_STATIC_DEPS: ${_modules} left out: ${_problem}")
      set_property(GLOBAL APPEND PROPERTY NEXURE_STATIC_LEFT_OUT "${_modules}")
      set(${prefix}_FOUND FALSE PARENT_SCOPE)
      return()
    endif()
    message(FATAL_ERROR "NEXURE_STATIC_DEPS: ${_problem}. Install the package's static "
                        "archive, or configure with NEXURE_STATIC_DEPS=OFF")
  endif()

  add_library(PkgConfig::${prefix} INTERFACE IMPORTED)
  set_target_properties(PkgConfig::${prefix} PROPERTIES
    INTERFACE_LINK_LIBRARIES "${_libs}"
    INTERFACE_INCLUDE_DIRECTORIES "${${prefix}_STATIC_INCLUDE_DIRS}"
    INTERFACE_COMPILE_OPTIONS "${${prefix}_STATIC_CFLAGS_OTHER}")
  set_property(GLOBAL APPEND PROPERTY NEXURE_STATIC_ARCHIVES ${_archives})
  message(STATUS "NEXURE_STATIC_DEPS: ${_modules} linked from ${_archives}")
  set(${prefix}_FOUND TRUE PARENT_SCOPE)
endfunction()

function(nexure_link_runtime_statically target)
  if(NOT NEXURE_STATIC_DEPS)
    return()
  endif()
  foreach(_archive libstdc++.a libgcc_eh.a)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=${_archive}
                    OUTPUT_VARIABLE _path OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT IS_ABSOLUTE "${_path}" OR NOT EXISTS "${_path}")
      message(FATAL_ERROR "NEXURE_STATIC_DEPS: the compiler has no ${_archive} (Debian: "
                          "libstdc++-12-dev, installed with g++)")
    endif()
    set_property(GLOBAL APPEND PROPERTY NEXURE_STATIC_ARCHIVES "${_path}")
  endforeach()
  target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc -Wl,--gc-sections)
endfunction()

# Writes <build>/nexure-static-deps.json: {"static": bool, "archives": [...], "leftOut": [...]}.
# Called once every library has been found (the top-level CMakeLists.txt, at the end).
function(nexure_write_static_report)
  get_property(_archives GLOBAL PROPERTY NEXURE_STATIC_ARCHIVES)
  get_property(_left GLOBAL PROPERTY NEXURE_STATIC_LEFT_OUT)
  set(_a "")
  foreach(_x IN LISTS _archives)
    get_filename_component(_n "${_x}" NAME)
    list(APPEND _a "\"${_n}\"")
  endforeach()
  set(_l "")
  foreach(_x IN LISTS _left)
    list(APPEND _l "\"${_x}\"")
  endforeach()
  list(REMOVE_DUPLICATES _a)
  list(JOIN _a ", " _a)
  list(JOIN _l ", " _l)
  if(NEXURE_STATIC_DEPS)
    set(_s true)
  else()
    set(_s false)
  endif()
  file(WRITE "${CMAKE_BINARY_DIR}/nexure-static-deps.json"
       "{\"static\": ${_s}, \"archives\": [${_a}], \"leftOut\": [${_l}]}\n")
endfunction()
