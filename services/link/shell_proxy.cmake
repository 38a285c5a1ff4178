# services/link/shell_proxy.cmake — the link agent's shell and proxy mux (src/shell.{h,cc},
# src/proxy.{h,cc}; owner: part S of issue 12), included by services/link/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/shell_proxy.cmake)
# Defines keel_link_shell (a static library, portable: no libkeel calls; the agent links it) and,
# in the host tree, its unit test keel_link_shell_test. Kept apart so that the agent's
# CMakeLists.txt (part L) and this file are edited by one owner each.
set(KEEL_LINK_SHELL_DIR ${CMAKE_CURRENT_LIST_DIR})
set(keel_link_shell_sources ${KEEL_LINK_SHELL_DIR}/src/shell.cc ${KEEL_LINK_SHELL_DIR}/src/proxy.cc)

if(KEEL_TARGET STREQUAL "host" AND NOT KEEL_FUZZ)
  keel_add_library(keel_link_shell DEVICE SOURCES ${keel_link_shell_sources})
  target_include_directories(keel_link_shell PUBLIC ${KEEL_LINK_SHELL_DIR}/src)
  target_link_libraries(keel_link_shell PUBLIC keel_control keel_sys)
  keel_add_host_test(keel_link_shell_test
    SOURCES ${KEEL_LINK_SHELL_DIR}/test/shell_test.cc ${KEEL_LINK_SHELL_DIR}/test/proxy_test.cc
            ${KEEL_LINK_SHELL_DIR}/test/proxy_more_test.cc
            ${KEEL_LINK_SHELL_DIR}/test/proxy_record_test.cc
    LIBS keel_link_shell)
  # The library is built without RTTI (device code) and has virtual functions: UBSan's vptr
  # check would need its typeinfo (as keel_store_test).
  target_compile_options(keel_link_shell_test PRIVATE -fno-sanitize=vptr)
  # libkeel's proxy client (lib/keel/src/proxy.cc) end to end with the mux, its component
  # environment (streams, info page, clock, waits) faked in the test.
  keel_add_host_test(keel_link_proxy_client_test
    SOURCES ${KEEL_LINK_SHELL_DIR}/test/proxy_client_test.cc ${CMAKE_SOURCE_DIR}/lib/keel/src/proxy.cc
    LIBS keel_link_shell)
  target_include_directories(keel_link_proxy_client_test PRIVATE ${CMAKE_SOURCE_DIR}/lib/keel/include
                             ${CMAKE_SOURCE_DIR}/lib/keel/src ${CMAKE_SOURCE_DIR}/lib/rt/include)
  target_compile_options(keel_link_proxy_client_test PRIVATE -fno-sanitize=vptr
                         -include ${KEEL_LINK_SHELL_DIR}/test/host_rpc_shim.h)
elseif(KEEL_TARGET STREQUAL "aarch64" AND TARGET keel_control)
  keel_add_library(keel_link_shell DEVICE SOURCES ${keel_link_shell_sources})
  target_include_directories(keel_link_shell PUBLIC ${KEEL_LINK_SHELL_DIR}/src)
  target_link_libraries(keel_link_shell PUBLIC keel_control keel_sys)
endif()
