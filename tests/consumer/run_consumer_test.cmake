# Builds and runs a consumer project against srformer, the way users will:
#
#   MODE=find_package  install this build's package (component srformer_Development)
#                      into a staging prefix, check what was installed, move the
#                      prefix (the package must be relocatable), then configure +
#                      build + run tests/consumer/find_package with CMAKE_PREFIX_PATH.
#   MODE=fetchcontent  configure + build + run tests/consumer/fetchcontent, which
#                      pulls srformer in with FetchContent from SRFORMER_SOURCE_DIR.
#
# Usage (see tests/CMakeLists.txt):
#   cmake -DMODE=... -DSRFORMER_SOURCE_DIR=... -DSRFORMER_BINARY_DIR=... -DSRFORMER_VERSION=...
#         -DWORK_DIR=... -DGENERATOR=... -DMAKE_PROGRAM=... -DCXX_COMPILER=... -DCONFIG=...
#         -P run_consumer_test.cmake
cmake_minimum_required(VERSION 3.16)

foreach(_required MODE SRFORMER_SOURCE_DIR SRFORMER_BINARY_DIR SRFORMER_VERSION WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${_required} OR "${${_required}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer_test.cmake: -D${_required}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

# Runs a command, echoing it; any failure fails the test with the command's output.
function(run_step description)
  message(STATUS "[consumer:${MODE}] ${description}")
  execute_process(COMMAND ${ARGN}
                  RESULT_VARIABLE result
                  OUTPUT_VARIABLE output
                  ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "[consumer:${MODE}] ${description} failed (${result}):\n  ${command}\n${output}")
  endif()
  set(step_output "${output}" PARENT_SCOPE)
endfunction()

function(expect_version_compatible version_file requested expected)
  set(PACKAGE_FIND_VERSION "${requested}")
  string(REPLACE "." ";" parts "${requested}")
  list(GET parts 0 PACKAGE_FIND_VERSION_MAJOR)
  set(PACKAGE_VERSION_COMPATIBLE "")
  set(PACKAGE_VERSION_UNSUITABLE "")
  set(CMAKE_SIZEOF_VOID_P 4)  # a 32-bit consumer: header-only must not care
  include("${version_file}")
  if(PACKAGE_VERSION_UNSUITABLE)
    message(FATAL_ERROR "srformerConfigVersion.cmake rejects a 32-bit consumer (not ARCH_INDEPENDENT)")
  endif()
  if(NOT "${PACKAGE_VERSION_COMPATIBLE}" STREQUAL "${expected}")
    message(FATAL_ERROR "srformerConfigVersion.cmake (version ${PACKAGE_VERSION}): request ${requested} "
                        "gives COMPATIBLE=${PACKAGE_VERSION_COMPATIBLE}, expected ${expected}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(consumer_build "${WORK_DIR}/build")
set(configure_args
  -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
  "-DCMAKE_BUILD_TYPE=${CONFIG}"
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()

if(MODE STREQUAL "find_package")
  set(staging "${WORK_DIR}/staging")
  set(prefix "${WORK_DIR}/prefix")
  run_step("install into ${staging}"
           "${CMAKE_COMMAND}" --install "${SRFORMER_BINARY_DIR}" --config "${CONFIG}"
           --component srformer_Development --prefix "${staging}")

  # Every public header is installed, and nothing but headers under include/.
  file(GLOB_RECURSE source_headers RELATIVE "${SRFORMER_SOURCE_DIR}/include"
       "${SRFORMER_SOURCE_DIR}/include/*.hpp")
  file(GLOB_RECURSE installed_headers RELATIVE "${staging}/include" "${staging}/include/*")
  list(SORT source_headers)
  list(SORT installed_headers)
  if(NOT source_headers STREQUAL installed_headers)
    message(FATAL_ERROR "installed headers differ from include/**/*.hpp:\n"
                        "  source:    ${source_headers}\n  installed: ${installed_headers}")
  endif()
  if(NOT "srformer/srformer.hpp" IN_LIST installed_headers)
    message(FATAL_ERROR "umbrella header srformer/srformer.hpp was not installed")
  endif()

  file(GLOB_RECURSE package_files "${staging}/*Config.cmake")
  list(LENGTH package_files package_count)
  if(NOT package_count EQUAL 1)
    message(FATAL_ERROR "expected one srformerConfig.cmake under ${staging}, found: ${package_files}")
  endif()
  get_filename_component(package_dir "${package_files}" DIRECTORY)
  file(READ "${package_dir}/srformerTargets.cmake" targets_text)
  foreach(forbidden "srformer_dev_flags" "-Wall" "-Wextra" "-Wpedantic" "${SRFORMER_SOURCE_DIR}")
    string(FIND "${targets_text}" "${forbidden}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "srformerTargets.cmake must not mention '${forbidden}'")
    endif()
  endforeach()

  # SameMajorVersion + ARCH_INDEPENDENT, relative to the project version.
  set(version_file "${package_dir}/srformerConfigVersion.cmake")
  string(REPLACE "." ";" own_parts "${SRFORMER_VERSION}")
  list(GET own_parts 0 own_major)
  list(GET own_parts 1 own_minor)
  math(EXPR next_major "${own_major} + 1")
  math(EXPR next_minor "${own_minor} + 1")
  expect_version_compatible("${version_file}" "${SRFORMER_VERSION}" TRUE)
  expect_version_compatible("${version_file}" "${own_major}.${own_minor}" TRUE)
  expect_version_compatible("${version_file}" "${own_major}.0" TRUE)
  expect_version_compatible("${version_file}" "${own_major}.${next_minor}" FALSE)
  expect_version_compatible("${version_file}" "${next_major}.0" FALSE)
  # With the current version alone SameMajorVersion and AnyNewerVersion agree;
  # they differ once a new major version is out. Simulate that release by
  # rewriting the version in a copy: it must refuse today's request.
  file(READ "${version_file}" version_text)
  string(REPLACE "\"${SRFORMER_VERSION}\"" "\"${next_major}.0.0\"" future_text "${version_text}")
  if(future_text STREQUAL version_text)
    message(FATAL_ERROR "srformerConfigVersion.cmake does not contain \"${SRFORMER_VERSION}\"")
  endif()
  file(WRITE "${WORK_DIR}/future/srformerConfigVersion.cmake" "${future_text}")
  expect_version_compatible("${WORK_DIR}/future/srformerConfigVersion.cmake" "${own_major}.${own_minor}" FALSE)
  expect_version_compatible("${WORK_DIR}/future/srformerConfigVersion.cmake" "${next_major}.0" TRUE)

  # The installed package must not hard-code where it was installed.
  file(RENAME "${staging}" "${prefix}")

  run_step("configure tests/consumer/find_package"
           "${CMAKE_COMMAND}" -S "${SRFORMER_SOURCE_DIR}/tests/consumer/find_package"
           -B "${consumer_build}" ${configure_args}
           "-DCMAKE_PREFIX_PATH=${prefix}" "-DSRFORMER_EXPECTED_PREFIX=${prefix}")
elseif(MODE STREQUAL "fetchcontent")
  run_step("configure tests/consumer/fetchcontent"
           "${CMAKE_COMMAND}" -S "${SRFORMER_SOURCE_DIR}/tests/consumer/fetchcontent"
           -B "${consumer_build}" ${configure_args}
           "-DSRFORMER_SOURCE_DIR=${SRFORMER_SOURCE_DIR}"
           "-DSRFORMER_EXPECTED_VERSION=${SRFORMER_VERSION}")
else()
  message(FATAL_ERROR "MODE must be find_package or fetchcontent, not '${MODE}'")
endif()

run_step("build" "${CMAKE_COMMAND}" --build "${consumer_build}" --config "${CONFIG}")

set(consumer_exe "")
foreach(candidate "${consumer_build}/consumer" "${consumer_build}/${CONFIG}/consumer"
                  "${consumer_build}/consumer.exe" "${consumer_build}/${CONFIG}/consumer.exe")
  if(EXISTS "${candidate}")
    set(consumer_exe "${candidate}")
    break()
  endif()
endforeach()
if(NOT consumer_exe)
  message(FATAL_ERROR "the consumer executable was not found under ${consumer_build}")
endif()
run_step("run ${consumer_exe}" "${consumer_exe}")
if(NOT step_output MATCHES "srformer consumer OK \\(srformer ${SRFORMER_VERSION}\\)")
  message(FATAL_ERROR "unexpected consumer output:\n${step_output}")
endif()
message(STATUS "[consumer:${MODE}] ${step_output}")
