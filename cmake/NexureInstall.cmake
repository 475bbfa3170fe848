# Installs what a consumer of nexure::net needs — the static libraries (alloc, engine, net and the
# llhttp build), the headers of alloc/, engine/ and net/ (and llhttp.h), and a CMake package:
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

set_target_properties(nexure_llhttp PROPERTIES EXPORT_NAME llhttp)
install(TARGETS nexure_alloc nexure_engine nexure_net nexure_llhttp
        EXPORT nexurejsTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(module alloc engine net)
  # (net/json/'s headers belong to the json component.)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nexurejs/${module}
          FILES_MATCHING PATTERN "*.h" PATTERN "json" EXCLUDE)
endforeach()
install(FILES ${NEXURE_LLHTTP_INCLUDE_DIR}/llhttp.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nexurejs/llhttp)
install(EXPORT nexurejsTargets NAMESPACE nexure::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nexurejs)
if(TARGET nexure_json)
  install(TARGETS nexure_json EXPORT nexurejsJsonTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/net/json/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nexurejs/net/json
          FILES_MATCHING PATTERN "*.h")
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
