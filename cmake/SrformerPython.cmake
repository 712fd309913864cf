# The Python binding (python/): built when SRFORMER_BUILD_PYTHON is ON, which by
# default it is when srformer is the top-level project and a Python interpreter with
# pybind11 and numpy is found. The interpreter is chosen here, not by FindPython, because
# the first `python3` on PATH may lack them (a pyenv interpreter next to Debian's
# /usr/bin/python3, where python3-pybind11 and python3-numpy install): each candidate
# is asked to import both, and the first that can is used. Set Python_EXECUTABLE to choose.
function(_srformer_probe_python candidate out_dir)
  execute_process(
    COMMAND "${candidate}" -c "import numpy, pybind11; print(pybind11.get_cmake_dir(), end='')"
    RESULT_VARIABLE result OUTPUT_VARIABLE cmake_dir ERROR_QUIET)
  if(result EQUAL 0 AND EXISTS "${cmake_dir}")
    set(${out_dir} "${cmake_dir}" PARENT_SCOPE)
  else()
    set(${out_dir} "" PARENT_SCOPE)
  endif()
endfunction()

set(_srformer_python_found OFF)
if(DEFINED Python_EXECUTABLE)
  set(_candidates "${Python_EXECUTABLE}")
else()
  find_program(_srformer_path_python NAMES python3 NO_CACHE)
  set(_candidates ${_srformer_path_python} /usr/bin/python3)
endif()
foreach(candidate IN LISTS _candidates)
  if(candidate AND EXISTS "${candidate}")
    _srformer_probe_python("${candidate}" _cmake_dir)
    if(_cmake_dir)
      set(Python_EXECUTABLE "${candidate}" CACHE FILEPATH "Python interpreter of the srformer binding" FORCE)
      set(pybind11_DIR "${_cmake_dir}" CACHE PATH "pybind11's CMake package" FORCE)
      set(_srformer_python_found ON)
      break()
    endif()
  endif()
endforeach()

set(_srformer_python_default OFF)
if(SRFORMER_IS_TOP_LEVEL AND _srformer_python_found)
  set(_srformer_python_default ON)
endif()
option(SRFORMER_BUILD_PYTHON "Build the Python binding (python/) and its tests" ${_srformer_python_default})
if(SRFORMER_BUILD_PYTHON)
  if(NOT _srformer_python_found)
    message(FATAL_ERROR "SRFORMER_BUILD_PYTHON is ON but no Python interpreter with pybind11 and numpy was found "
                        "(tried: ${_candidates}); on Debian: apt-get install python3-dev python3-pybind11 python3-numpy")
  endif()
  message(STATUS "srformer: Python binding for ${Python_EXECUTABLE}")
endif()
