# `pip install ./python` as the README shows it, offline, into a fresh virtual
# environment that sees the system's numpy and pybind11; then the installed package
# summarizes the bundled sample with the bundled model. The sources are copied first
# (pip builds in the source folder), so the checkout is left untouched.
#
#   cmake -DPYTHON=... -DSOURCE_DIR=... -DWORK_DIR=... -P run_pip_install_test.cmake
foreach(variable PYTHON SOURCE_DIR WORK_DIR)
  if(NOT ${variable})
    message(FATAL_ERROR "run_pip_install_test.cmake: -D${variable}= is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed (${result}): ${ARGN}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/src")
foreach(item CMakeLists.txt LICENSE cmake include python)
  file(COPY "${SOURCE_DIR}/${item}" DESTINATION "${WORK_DIR}/src")
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}/src/python/build")

run("${PYTHON}" -m venv --system-site-packages "${WORK_DIR}/venv")
set(venv_python "${WORK_DIR}/venv/bin/python")
# --no-index: nothing may be downloaded; --no-build-isolation: the installed setuptools/pybind11.
run(${CMAKE_COMMAND} -E env CMAKE_BUILD_PARALLEL_LEVEL=2
    "${venv_python}" -m pip install --no-index --no-build-isolation "${WORK_DIR}/src/python")

# Run from a folder without the sources, so the installed package is what is imported.
file(MAKE_DIRECTORY "${WORK_DIR}/run")
file(WRITE "${WORK_DIR}/run/check.py" "
import sys
import srformer
assert srformer.__file__.startswith(sys.prefix), srformer.__file__
summarizer = srformer.Summarizer(sys.argv[1])
text = open(sys.argv[2], encoding='utf-8').read()
print(summarizer.summarize(text).text)
")
execute_process(COMMAND "${venv_python}" check.py "${SOURCE_DIR}/examples/models/t5-demo"
                        "${SOURCE_DIR}/examples/data/sample_dialogue.txt"
                WORKING_DIRECTORY "${WORK_DIR}/run" RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the installed package failed (${result}):\n${out}\n${err}")
endif()
string(STRIP "${out}" out)
set(expected "#Person1# invites #Person2# to go to the theatre but #Person2# refuses.")
if(NOT out STREQUAL expected)
  message(FATAL_ERROR "unexpected summary from the installed package:\n  got      '${out}'\n  expected '${expected}'")
endif()
message(STATUS "pip install ./python: installed and summarized: ${out}")
file(REMOVE_RECURSE "${WORK_DIR}")
