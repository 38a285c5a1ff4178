# Shared build helpers for every part of Keel. Keep these small and obvious.

set(KEEL_WARNINGS -Wall -Wextra -Werror -Wshadow -Wcast-align -Wunused
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
# -Wnull-dereference works only with optimisation on. On the device (kernel and user level, no
# third-party headers) it is kept; on the host it does nothing in the Debug/ASan build and at -O3
# GCC 12 reports false positives inside Boost.Asio, nlohmann::json and libstdc++ inlines.
if(KEEL_TARGET STREQUAL "aarch64")
  list(APPEND KEEL_WARNINGS -Wnull-dereference)
elseif(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 at -O2/-O3 reports a bogus -Wrestrict inside libstdc++'s std::string operator+
  # (GCC bug 105329); it is not about our code and breaks the host-release build.
  list(APPEND KEEL_WARNINGS -Wno-restrict)
endif()

if(KEEL_TARGET STREQUAL "host")
  if(KEEL_SANITIZE)
    set(KEEL_SAN_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_compile_options(${KEEL_SAN_FLAGS})
    add_link_options(${KEEL_SAN_FLAGS})
  endif()
  if(KEEL_FUZZ)
    # Coverage instrumentation for everything a fuzz target links; the targets add the driver.
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
    if(NOT TARGET fuzz_all)
      add_custom_target(fuzz_all)
    endif()
  endif()
  find_package(Threads REQUIRED)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()

# keel_warnings(target): the project's warning set, as errors.
# keel_add_subfolders([HOST_SUBDIR <name>]): adds every subfolder of the current source folder that
# has a CMakeLists.txt, in sorted order, so that each part lands independently without editing its
# parent. With HOST_SUBDIR, adds <part>/<name> instead (e.g. a service's host-tested logic).
function(keel_add_subfolders)
  cmake_parse_arguments(A "" "HOST_SUBDIR" "" ${ARGN})
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(part IN LISTS children)
    if(A_HOST_SUBDIR)
      if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${part}/${A_HOST_SUBDIR}/CMakeLists.txt)
        add_subdirectory(${part}/${A_HOST_SUBDIR} ${CMAKE_CURRENT_BINARY_DIR}/${part}-${A_HOST_SUBDIR})
      endif()
    elseif(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${part} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${part}/CMakeLists.txt)
      add_subdirectory(${part})
    endif()
  endforeach()
endfunction()

function(keel_warnings target)
  # -Wnon-virtual-dtor is C++-only (GCC rejects it for C sources such as C components).
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C,CXX>:${KEEL_WARNINGS}>
                         $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
endfunction()

# keel_add_host_test(name SOURCES a.cc b.cc LIBS lib1 lib2 [LABELS l])
# One GoogleTest binary; each TEST becomes its own CTest test (discovered when ctest runs).
function(keel_add_host_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT KEEL_TARGET STREQUAL "host" OR KEEL_FUZZ)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  keel_warnings(${name})
  target_link_libraries(${name} PRIVATE ${A_LIBS} GTest::gtest GTest::gtest_main GTest::gmock Threads::Threads)
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "unit;${A_LABELS}")
endfunction()

# keel_add_qemu_test(name IMAGE <path-or-genex> [CPUS cortex-a53 cortex-a72] [TIMEOUT s]
#                    [EXPECT regex ...] [ARGS extra runner args] [DEPENDS target])
# Boots IMAGE in qemu-system-aarch64 -M virt once per CPU; pass/fail is the semihosting exit code.
function(keel_add_qemu_test name)
  cmake_parse_arguments(A "" "IMAGE;TIMEOUT" "CPUS;EXPECT;ARGS;LABELS" ${ARGN})
  if(NOT A_CPUS)
    set(A_CPUS cortex-a53 cortex-a72)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  set(expect_args "")
  foreach(e IN LISTS A_EXPECT)
    list(APPEND expect_args --expect "${e}")
  endforeach()
  foreach(cpu IN LISTS A_CPUS)
    string(REPLACE "cortex-" "" short ${cpu})
    add_test(NAME qemu.${name}.${short}
      COMMAND python3 ${CMAKE_SOURCE_DIR}/scripts/qemu_run.py --cpu ${cpu} --timeout ${A_TIMEOUT}
              --log ${CMAKE_BINARY_DIR}/test-logs/${name}.${short}.log ${expect_args} ${A_ARGS} ${A_IMAGE})
    set_tests_properties(qemu.${name}.${short} PROPERTIES TIMEOUT ${A_TIMEOUT}0 LABELS "qemu;${A_LABELS}")
  endforeach()
endfunction()

# keel_add_bench(name COMMAND cmd args...): registered for `make bench`; the command prints
# `BENCH <name> <value> <unit>` lines (anything else it prints is ignored by scripts/bench.sh).
function(keel_add_bench name)
  cmake_parse_arguments(A "" "" "COMMAND" ${ARGN})
  string(JOIN " " cmd ${A_COMMAND})
  set_property(GLOBAL APPEND PROPERTY KEEL_BENCHES "${name}\t${cmd}")
endfunction()

function(keel_write_bench_list)
  get_property(benches GLOBAL PROPERTY KEEL_BENCHES)
  string(JOIN "\n" content ${benches})
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/benchmarks.tsv CONTENT "${content}\n")
endfunction()

# keel_add_fuzz(name SOURCES ... LIBS ... [SECONDS n] [CORPUS dir])
# A libFuzzer target, built only in the `fuzz` preset (clang), run for SECONDS in the suite.
function(keel_add_fuzz name)
  cmake_parse_arguments(A "" "SECONDS;CORPUS" "SOURCES;LIBS" ${ARGN})
  if(NOT KEEL_FUZZ)
    return()
  endif()
  if(NOT A_SECONDS)
    set(A_SECONDS 60)
  endif()
  add_executable(${name} ${A_SOURCES})
  keel_warnings(${name})
  set(fz -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
  target_compile_options(${name} PRIVATE ${fz})
  target_link_options(${name} PRIVATE ${fz})
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  add_dependencies(fuzz_all ${name})
  set(corpus ${CMAKE_BINARY_DIR}/fuzz-corpus/${name})
  file(MAKE_DIRECTORY ${corpus})
  set(seed "")
  if(A_CORPUS)
    set(seed ${A_CORPUS})
  endif()
  add_test(NAME fuzz.${name}
    COMMAND $<TARGET_FILE:${name}> -max_total_time=${A_SECONDS} -print_final_stats=1 -rss_limit_mb=2048 ${corpus} ${seed})
  set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT 900 LABELS fuzz)
endfunction()
