# Installs what a consumer of nexure::net needs — the static libraries (alloc, engine, compress,
# ws, net and the llhttp build), the public headers, and a CMake package:
#
#   cmake --install build --prefix /opt/nexurejs
#   find_package(nexurejs REQUIRED)                 # with CMAKE_PREFIX_PATH=/opt/nexurejs
#   target_link_libraries(app PRIVATE nexure::net)
#
# Tools, examples and tests are not installed. The package finds liburing and libnuma through
# pkg-config (Debian's liburing-dev and libnuma-dev), as the build does.
#
# nexure::json (net/json/), when built, is installed as the package's component `json`, in an
# export set of its own: only `find_package(nexurejs COMPONENTS json)` loads it, and only then is
# simdjson looked for.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The public headers: the ones a program includes (the roots) and what they include in turn —
# nothing else. The engine's and the server's internals (the ring and liburing, workers,
# connections, the parser and llhttp) stay out of include/nexurejs/: a handler never needs them.
# A header becomes public by being included from a root; tests/consumer/run.sh checks that the
# internals are absent and that the roots compile from the installed tree alone.
set(NEXURE_PUBLIC_HEADER_ROOTS
    net/server.h net/hooks.h net/coro.h net/client/http_client.h net/client/socket.h
    net/http/json_writer.h net/http/form.h net/http/percent.h net/http/conditional.h
    net/ws/protocol.h net/ws/handshake.h net/ws/websocket.h)
set(NEXURE_JSON_HEADER_ROOTS net/json/body.h)

# nexure_header_closure(OUT root...): the roots and every project header they include, recursively.
function(nexure_header_closure out)
  set(todo ${ARGN})
  set(done "")
  while(todo)
    list(POP_FRONT todo header)
    if(header IN_LIST done)
      continue()
    endif()
    list(APPEND done ${header})
    file(STRINGS ${PROJECT_SOURCE_DIR}/${header} lines REGEX "^[ \t]*#[ \t]*include \"")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include \"([^\"]+)\".*" "\\1" included "${line}")
      if(EXISTS ${PROJECT_SOURCE_DIR}/${included})
        list(APPEND todo ${included})
      endif()
    endforeach()
  endwhile()
  set(${out} ${done} PARENT_SCOPE)
endfunction()

# install_headers(COMPONENT_LIST...): each at include/nexurejs/<its path>.
function(nexure_install_headers)
  foreach(header IN LISTS ARGN)
    get_filename_component(dir ${header} DIRECTORY)
    install(FILES ${PROJECT_SOURCE_DIR}/${header}
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nexurejs/${dir})
  endforeach()
endfunction()

set_target_properties(nexure_llhttp PROPERTIES EXPORT_NAME llhttp)
install(TARGETS nexure_alloc nexure_engine nexure_compress nexure_ws nexure_net nexure_llhttp
        EXPORT nexurejsTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
nexure_header_closure(_nexure_public_headers ${NEXURE_PUBLIC_HEADER_ROOTS})
nexure_install_headers(${_nexure_public_headers})
install(EXPORT nexurejsTargets NAMESPACE nexure::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nexurejs)
if(TARGET nexure_json)
  install(TARGETS nexure_json EXPORT nexurejsJsonTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  # (net/json/'s headers belong to the json component: the ones the core set does not have.)
  nexure_header_closure(_nexure_json_headers ${NEXURE_JSON_HEADER_ROOTS})
  list(REMOVE_ITEM _nexure_json_headers ${_nexure_public_headers})
  nexure_install_headers(${_nexure_json_headers})
  install(EXPORT nexurejsJsonTargets NAMESPACE nexure::
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nexurejs)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nexurejsConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/nexurejsConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nexurejs)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nexurejsConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/nexurejsConfig.cmake
              ${PROJECT_BINARY_DIR}/nexurejsConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nexurejs)
