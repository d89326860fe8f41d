# Configures, builds and tests the project in a build directory of its own,
# for the checks that need another compiler or other flags than the build
# that runs them (CTest labels "sanitize" and "fuzz").
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DCOMPILER=gcc|clang
#         -DCMAKE_ARGS="a;b" -DCTEST_ARGS="a;b" [-DLSAN_SUPPRESSIONS=file]
#         [-DTARGETS="a;b"] [-DHIDE_CUDA=ON] [-DNO_ONEDNN=ON] [-DOPTIMIZE=-O1]
#         -P nested_build.cmake
# TARGETS: build only these (default: all). HIDE_CUDA: configure as on a
# machine without a CUDA compiler (most users' machine): nvcc's directories
# leave PATH, the variables that point CMake at a toolkit are unset, and the
# project's NORMLAB_CUDA_HOME names an empty directory; NORMLAB_CUDA stays
# AUTO, so what is tested is the detection a user's build goes through, and
# the build must then say it has no CUDA backend. NO_ONEDNN: configured
# with NORMLAB_ONEDNN=OFF, and the binary must say it was built without it.
# OPTIMIZE: the compiler's optimization flags instead of Release's -O3
# (-O1 compiles in about 60% of -O3's time, -O0 in a third but runs the
# tests several times slower): for a build whose point is which code is
# compiled in and what it says, not how fast it runs. The directory is kept, so a second run only rebuilds what
# changed.
foreach(var SOURCE_DIR BINARY_DIR COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "nested_build.cmake: ${var} is not set")
  endif()
endforeach()

cmake_host_system_information(RESULT cores QUERY NUMBER_OF_LOGICAL_CORES)
function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "failed (${rc}): ${command}")
  endif()
endfunction()

set(cuda_args -DNORMLAB_CUDA=OFF)
if(HIDE_CUDA)
  set(no_toolkit ${BINARY_DIR}/no-cuda-toolkit)
  file(MAKE_DIRECTORY ${no_toolkit})
  set(cuda_args -DNORMLAB_CUDA=AUTO -DNORMLAB_CUDA_HOME=${no_toolkit})
  set(path "")
  string(REPLACE ":" ";" dirs "$ENV{PATH}")
  foreach(dir IN LISTS dirs)
    if(NOT EXISTS ${dir}/nvcc)
      list(APPEND path ${dir})
    endif()
  endforeach()
  string(REPLACE ";" ":" path "${path}")
  set(ENV{PATH} "${path}")
  foreach(var CUDACXX CUDA_PATH CUDA_HOME CUDAToolkit_ROOT)
    unset(ENV{${var}})
  endforeach()
endif()
set(onednn_args "")
if(NO_ONEDNN)
  set(onednn_args -DNORMLAB_ONEDNN=OFF)
endif()
set(type_args -DCMAKE_BUILD_TYPE=Release)
if(DEFINED OPTIMIZE)
  set(type_args -DCMAKE_BUILD_TYPE=Nested "-DCMAKE_C_FLAGS_NESTED=${OPTIMIZE}")
endif()
step(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR} -DCMAKE_C_COMPILER=${COMPILER}
     ${type_args} ${cuda_args} ${onednn_args} ${CMAKE_ARGS})
if(HIDE_CUDA)
  # a cache from an earlier configure that found nvcc would hide nothing
  file(STRINGS ${BINARY_DIR}/CMakeCache.txt found REGEX "^CMAKE_CUDA_COMPILER:[A-Z]+=.*nvcc")
  if(found)
    message(FATAL_ERROR "the build without a CUDA compiler found one: ${found}")
  endif()
endif()
if(DEFINED TARGETS)
  foreach(target IN LISTS TARGETS)
    list(APPEND target_args --target ${target})
  endforeach()
endif()
step(${CMAKE_COMMAND} --build ${BINARY_DIR} -j ${cores} ${target_args})
if(HIDE_CUDA)
  execute_process(COMMAND ${BINARY_DIR}/normlab --version OUTPUT_VARIABLE version RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT version MATCHES "\ncuda: not built")
    message(FATAL_ERROR "normlab --version of the build without CUDA (exit ${rc}):\n${version}")
  endif()
  message(STATUS "built without a CUDA compiler: ${version}")
endif()
if(NO_ONEDNN)
  execute_process(COMMAND ${BINARY_DIR}/normlab --version OUTPUT_VARIABLE version RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT version MATCHES "\nconv library: normlab \\(built without oneDNN")
    message(FATAL_ERROR "normlab --version of the build without oneDNN (exit ${rc}):\n${version}")
  endif()
endif()
if(DEFINED LSAN_SUPPRESSIONS)
  set(ENV{LSAN_OPTIONS} "suppressions=${LSAN_SUPPRESSIONS}:print_suppressions=0")
endif()
step(${CMAKE_CTEST_COMMAND} --test-dir ${BINARY_DIR} --output-on-failure ${CTEST_ARGS})
