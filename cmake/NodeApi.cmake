# Node-API headers for the addon (napi/), found offline from the node that runs the build.
#
# Defines the INTERFACE target nexure::node_api (include directory only: the napi_* and uv_*
# symbols are resolved against the node binary when the addon is loaded). Nothing is
# downloaded: node-gyp and cmake-js would fetch headers from nodejs.org, which an offline
# machine cannot reach (napi/GROUNDWORK.md section 1).
#
# Search order (the first directory holding both node_api.h and uv.h wins):
#   1. $NEXURE_NODE_INCLUDE_DIR (environment)
#   2. $npm_config_nodedir/include/node (npm's nodedir setting)
#   3. <execPath>/../../include/node (official tarballs, nvm, distribution packages)
#   4. <process.config.variables.node_prefix>/include/node
#   5. /usr/include/node, /usr/local/include/node
# NODE_EXECUTABLE (cache) is the node asked; build-addon.js passes process.execPath.

find_program(NODE_EXECUTABLE NAMES node nodejs DOC "The node binary the addon is built for")
if(NOT NODE_EXECUTABLE)
  message(FATAL_ERROR "NEXURE_BUILD_NAPI: node not found; install Node.js >= 18.17 or pass "
                      "-DNODE_EXECUTABLE=/path/to/node")
endif()

execute_process(
  COMMAND "${NODE_EXECUTABLE}" -p
          "[process.versions.node, process.execPath, (process.config.variables||{}).node_prefix||'', process.versions.napi].join('\\n')"
  OUTPUT_VARIABLE _nexure_node_info
  RESULT_VARIABLE _nexure_node_rc
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _nexure_node_rc EQUAL 0)
  message(FATAL_ERROR "NEXURE_BUILD_NAPI: '${NODE_EXECUTABLE} -p ...' failed (${_nexure_node_rc})")
endif()
string(REPLACE "\n" ";" _nexure_node_info "${_nexure_node_info}")
list(GET _nexure_node_info 0 NEXURE_NODE_VERSION)
list(GET _nexure_node_info 1 _nexure_node_exec)
list(GET _nexure_node_info 2 _nexure_node_prefix)
list(GET _nexure_node_info 3 NEXURE_NODE_NAPI_VERSION)

set(_nexure_candidates "")
if(DEFINED ENV{NEXURE_NODE_INCLUDE_DIR} AND NOT "$ENV{NEXURE_NODE_INCLUDE_DIR}" STREQUAL "")
  list(APPEND _nexure_candidates "$ENV{NEXURE_NODE_INCLUDE_DIR}")
endif()
if(DEFINED ENV{npm_config_nodedir} AND NOT "$ENV{npm_config_nodedir}" STREQUAL "")
  list(APPEND _nexure_candidates "$ENV{npm_config_nodedir}/include/node")
endif()
get_filename_component(_nexure_exec_dir "${_nexure_node_exec}" DIRECTORY)
get_filename_component(_nexure_from_exec "${_nexure_exec_dir}/../include/node" ABSOLUTE)
list(APPEND _nexure_candidates "${_nexure_from_exec}")
if(NOT _nexure_node_prefix STREQUAL "")
  list(APPEND _nexure_candidates "${_nexure_node_prefix}/include/node")
endif()
list(APPEND _nexure_candidates /usr/include/node /usr/local/include/node)

set(NEXURE_NODE_INCLUDE_DIR "")
foreach(_dir IN LISTS _nexure_candidates)
  if(EXISTS "${_dir}/node_api.h" AND EXISTS "${_dir}/uv.h")
    set(NEXURE_NODE_INCLUDE_DIR "${_dir}")
    break()
  endif()
endforeach()
if(NEXURE_NODE_INCLUDE_DIR STREQUAL "")
  list(JOIN _nexure_candidates "\n  " _nexure_tried)
  message(FATAL_ERROR
    "NEXURE_BUILD_NAPI: no Node.js headers (node_api.h and uv.h) for node ${NEXURE_NODE_VERSION} "
    "(${_nexure_node_exec}). Tried:\n  ${_nexure_tried}\n"
    "Install the headers that match your node (official tarballs and nvm include them; on "
    "Debian/Ubuntu with NodeSource they come with the nodejs package) or point "
    "NEXURE_NODE_INCLUDE_DIR at a directory holding node_api.h and uv.h.")
endif()

# N-API is ABI-stable, so headers of another node version still build a working addon: warn only.
file(STRINGS "${NEXURE_NODE_INCLUDE_DIR}/node_version.h" _nexure_version_lines
     REGEX "^#define NODE_(MAJOR|MINOR|PATCH)_VERSION [0-9]+")
set(_nexure_header_version "")
foreach(_part MAJOR MINOR PATCH)
  foreach(_line IN LISTS _nexure_version_lines)
    if(_line MATCHES "^#define NODE_${_part}_VERSION ([0-9]+)")
      list(APPEND _nexure_header_version "${CMAKE_MATCH_1}")
    endif()
  endforeach()
endforeach()
list(JOIN _nexure_header_version "." _nexure_header_version)
if(NOT _nexure_header_version STREQUAL NEXURE_NODE_VERSION)
  message(WARNING "Node.js headers in ${NEXURE_NODE_INCLUDE_DIR} are for ${_nexure_header_version}, "
                  "the node that builds is ${NEXURE_NODE_VERSION}; N-API is ABI-stable, continuing")
endif()
message(STATUS "Node-API: node ${NEXURE_NODE_VERSION} (N-API ${NEXURE_NODE_NAPI_VERSION}), headers ${NEXURE_NODE_INCLUDE_DIR}")

if(NOT TARGET nexure_node_api)
  add_library(nexure_node_api INTERFACE)
  add_library(nexure::node_api ALIAS nexure_node_api)
  target_include_directories(nexure_node_api SYSTEM INTERFACE "${NEXURE_NODE_INCLUDE_DIR}")
endif()
