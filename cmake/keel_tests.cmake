# Tests and benchmarks (included by keel.cmake). Where tests live: tests/README.md.

if(KEEL_TARGET STREQUAL "host")
  if(KEEL_FUZZ AND NOT TARGET fuzz_all)
    add_custom_target(fuzz_all)  # the fuzz tree builds only this target (and what it links)
  endif()
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()

# keel_add_host_test(<name> SOURCES <file>... [LIBS <lib>...] [LABELS <label>...] [TIMEOUT s]
#                    [PREFIX <ctest name prefix>])
# One GoogleTest binary, with the warning set (host tree only, not in the fuzz tree); each TEST
# becomes its own CTest test (discovered when ctest runs), named PREFIX + Suite.Test.
function(keel_add_host_test name)
  cmake_parse_arguments(A "" "TIMEOUT;PREFIX" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT KEEL_TARGET STREQUAL "host" OR KEEL_FUZZ)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  _keel_warnings(${name})
  target_link_libraries(${name} PRIVATE ${A_LIBS} GTest::gtest GTest::gtest_main GTest::gmock Threads::Threads)
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set(prefix "")
  if(A_PREFIX)
    set(prefix TEST_PREFIX ${A_PREFIX})
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60 ${prefix}
    PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "unit;${A_LABELS}")
endfunction()

# keel_add_qemu_test(<name> IMAGE <path-or-genex> [CPUS cortex-a53 cortex-a72] [TIMEOUT s]
#                    [EXPECT regex ...] [REJECT regex ...] [ARGS extra runner args] [LABELS <label>...])
# Boots IMAGE in qemu-system-aarch64 -M virt once per CPU (CTest name qemu.<name>.<a53|a72>);
# pass/fail is the semihosting exit code, every EXPECT regex seen on the console and no REJECT
# regex seen (scripts/qemu_run.py). Always rejected: the fault of a Keel OS test component whose
# check failed without the halt grant (ostest::fail, tests/os/common/ostest.h).
function(keel_add_qemu_test name)
  cmake_parse_arguments(A "" "IMAGE;TIMEOUT" "CPUS;EXPECT;REJECT;ARGS;LABELS" ${ARGN})
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
  foreach(e IN LISTS A_REJECT ITEMS "fault: VM fault at 0xfa11 ")
    list(APPEND expect_args --reject "${e}")
  endforeach()
  foreach(cpu IN LISTS A_CPUS)
    string(REPLACE "cortex-" "" short ${cpu})
    add_test(NAME qemu.${name}.${short}
      COMMAND python3 ${CMAKE_SOURCE_DIR}/scripts/qemu_run.py --cpu ${cpu} --timeout ${A_TIMEOUT}
              --log ${CMAKE_BINARY_DIR}/test-logs/${name}.${short}.log ${expect_args} ${A_ARGS} ${A_IMAGE})
    set_tests_properties(qemu.${name}.${short} PROPERTIES TIMEOUT ${A_TIMEOUT}0 LABELS "qemu;${A_LABELS}")
  endforeach()
endfunction()

# keel_add_fuzz(<name> SOURCES <file>... LIBS <lib>... [SECONDS n] [CORPUS dir])
# A libFuzzer target, built only in the `fuzz` preset (clang) as part of fuzz_all. `make test` runs
# it briefly as the CTest test fuzz.<name> (KEEL_FUZZ_SECONDS, default 10: every seed and a few
# hundred thousand mutations, enough to catch a parser that broke); `make bench` runs it for
# SECONDS (default 60) as the benchmark fuzz.<name> and reports the executions it made.
function(keel_add_fuzz name)
  cmake_parse_arguments(A "" "SECONDS;CORPUS" "SOURCES;LIBS" ${ARGN})
  if(NOT KEEL_FUZZ)
    return()
  endif()
  if(NOT A_SECONDS)
    set(A_SECONDS 60)
  endif()
  add_executable(${name} ${A_SOURCES})
  _keel_warnings(${name})
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
  set(run $<TARGET_FILE:${name}> -print_final_stats=1 -rss_limit_mb=2048 ${corpus} ${seed})
  add_test(NAME fuzz.${name}
    COMMAND sh -c "exec \"$0\" -max_total_time=\${KEEL_FUZZ_SECONDS:-10} \"$@\"" ${run})
  set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT 900 LABELS fuzz)
  keel_add_bench(fuzz.${name} COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/fuzz_bench.sh ${name} ${A_SECONDS}
    ${run})
endfunction()

# keel_add_bench(<name> COMMAND cmd args...): registered for `make bench` (the list is written to
# <build tree>/benchmarks.tsv by keel_write_bench_list, called once at the end of the top level);
# the command prints `BENCH <name> <value> <unit>` lines (anything else it prints is ignored by
# scripts/bench.sh).
function(keel_add_bench name)
  cmake_parse_arguments(A "" "" "COMMAND" ${ARGN})
  string(JOIN " " cmd ${A_COMMAND})
  set_property(GLOBAL APPEND PROPERTY KEEL_BENCHES "${name}\t${cmd}")
endfunction()

# keel_bench_program(<target>...): benchmark programs that no test runs. They are built by the
# host-release tree (`make bench`); in a sanitizer tree (host: `make build`, `make test`) they are
# left out of `all`, built only when named (`cmake --build --preset host --target <name>`), which
# spares `make test` their compile and link. A program a test runs (link_bench, udp_load) is not
# one of these.
function(keel_bench_program)
  if(KEEL_SANITIZE)
    foreach(t IN LISTS ARGN)
      set_target_properties(${t} PROPERTIES EXCLUDE_FROM_ALL ON)
    endforeach()
  endif()
endfunction()

function(keel_write_bench_list)
  get_property(benches GLOBAL PROPERTY KEEL_BENCHES)
  if(KEEL_FUZZ)
    # The fuzz tree builds only the fuzz targets: the other benchmarks run from the other trees.
    list(FILTER benches INCLUDE REGEX "^fuzz\\.")
  endif()
  string(JOIN "\n" content ${benches})
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/benchmarks.tsv CONTENT "${content}\n")
endfunction()
