# Install + export rules: headers, the exported target srformer::srformer and a
# relocatable CMake package (srformerConfig.cmake + srformerConfigVersion.cmake).
#
# Everything here is in the component `srformer_Development`, so
#   cmake --install <build> --component srformer_Development --prefix <dir>
# installs the library package without needing anything built (the library is
# header-only) and without the install rules of examples/benchmarks, if any.
include(CMakePackageConfigHelpers)

set(SRFORMER_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/srformer"
    CACHE STRING "Where srformerConfig.cmake is installed, relative to the prefix")
mark_as_advanced(SRFORMER_INSTALL_CMAKEDIR)

install(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/include/"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT srformer_Development
        FILES_MATCHING PATTERN "*.hpp")

# Only `srformer` is exported; srformer_dev_flags (warning flags) stays private.
install(TARGETS srformer EXPORT srformerTargets COMPONENT srformer_Development)
install(EXPORT srformerTargets
        NAMESPACE srformer::
        DESTINATION "${SRFORMER_INSTALL_CMAKEDIR}"
        COMPONENT srformer_Development)

configure_package_config_file(
  "${CMAKE_CURRENT_SOURCE_DIR}/cmake/srformerConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/srformerConfig.cmake"
  INSTALL_DESTINATION "${SRFORMER_INSTALL_CMAKEDIR}")

# SameMajorVersion: find_package(srformer 0.1) accepts any installed 0.x >= 0.1
# but never 1.x, because a new major version is where the API may break.
# AnyNewerVersion would wrongly accept 1.x, 2.x, ... for a 0.1 request.
# ARCH_INDEPENDENT: header-only, so a 64-bit install also serves 32-bit consumers.
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/srformerConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)

install(FILES "${CMAKE_CURRENT_BINARY_DIR}/srformerConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/srformerConfigVersion.cmake"
        DESTINATION "${SRFORMER_INSTALL_CMAKEDIR}"
        COMPONENT srformer_Development)

install(FILES "${CMAKE_CURRENT_SOURCE_DIR}/LICENSE"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}"
        COMPONENT srformer_Development)
