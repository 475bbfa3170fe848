# Third-party dependencies, all from Debian packages (scripts/setup.sh installs them).
# Native libraries are found with nexure_native_library() (cmake/NexureStaticDeps.cmake), which
# links them statically with NEXURE_STATIC_DEPS=ON (the prebuilt addon).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
include(${CMAKE_CURRENT_LIST_DIR}/NexureStaticDeps.cmake)

# liburing (liburing-dev)
nexure_native_library(URING liburing)

# libnuma (libnuma-dev): NUMA topology and memory placement. Debian's libnuma.a is not
# position-independent, so a static build (the prebuilt addon) goes without it: alloc/numa.cc then
# reports no NUMA support and every CPU is on node 0.
nexure_native_library(NUMA numa STATIC_OPTIONAL)

# llhttp (node-llhttp ships the generated C sources, not a library): compiled here once.
foreach(src llhttp.c api.c http.c)
  if(NOT EXISTS ${NEXURE_LLHTTP_DIR}/${src})
    message(FATAL_ERROR "llhttp source ${NEXURE_LLHTTP_DIR}/${src} not found: "
                        "install Debian's node-llhttp (scripts/setup.sh does) or set NEXURE_LLHTTP_DIR")
  endif()
endforeach()
add_library(nexure_llhttp STATIC
  ${NEXURE_LLHTTP_DIR}/llhttp.c ${NEXURE_LLHTTP_DIR}/api.c ${NEXURE_LLHTTP_DIR}/http.c)
# (Build tree only: llhttp.h is the parser's, never a public header's, and is not installed.)
target_include_directories(nexure_llhttp SYSTEM PUBLIC $<BUILD_INTERFACE:${NEXURE_LLHTTP_INCLUDE_DIR}>)
set_target_properties(nexure_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON C_STANDARD 99)
target_compile_options(nexure_llhttp PRIVATE -O3 -w)

# The general-purpose allocator linked into executables (NEXURE_MALLOC): required only when
# executables are built, so that a consumer of the libraries needs no allocator package.
add_library(nexure_malloc INTERFACE)
if(NOT (NEXURE_BUILD_EXAMPLES OR NEXURE_BUILD_BENCH OR NEXURE_BUILD_TOOLS OR NEXURE_BUILD_TESTS))
  # nothing links it
elseif(NEXURE_MALLOC STREQUAL "mimalloc")
  find_package(mimalloc REQUIRED)
  target_link_libraries(nexure_malloc INTERFACE mimalloc)
elseif(NEXURE_MALLOC STREQUAL "jemalloc")
  find_library(JEMALLOC_LIB NAMES jemalloc REQUIRED)
  target_link_libraries(nexure_malloc INTERFACE ${JEMALLOC_LIB})
elseif(NOT NEXURE_MALLOC STREQUAL "system")
  message(FATAL_ERROR "NEXURE_MALLOC must be mimalloc, jemalloc or system (got '${NEXURE_MALLOC}')")
endif()
target_compile_definitions(nexure_malloc INTERFACE NEXURE_MALLOC_NAME="${NEXURE_MALLOC}")
