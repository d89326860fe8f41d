# Configures, builds and tests the project in a build directory of its own,
# for the checks that need another compiler or other flags than the build
# that runs them (CTest labels "sanitize" and "fuzz").
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DCOMPILER=gcc|clang
#         -DCMAKE_ARGS="a;b" -DCTEST_ARGS="a;b" [-DLSAN_SUPPRESSIONS=file]
#         -P nested_build.cmake
# The directory is kept, so a second run only rebuilds what changed.
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

step(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR} -DCMAKE_C_COMPILER=${COMPILER}
     -DCMAKE_BUILD_TYPE=Release -DNORMLAB_CUDA=OFF ${CMAKE_ARGS})
step(${CMAKE_COMMAND} --build ${BINARY_DIR} -j ${cores})
if(DEFINED LSAN_SUPPRESSIONS)
  set(ENV{LSAN_OPTIONS} "suppressions=${LSAN_SUPPRESSIONS}:print_suppressions=0")
endif()
step(${CMAKE_CTEST_COMMAND} --test-dir ${BINARY_DIR} --output-on-failure ${CTEST_ARGS})
