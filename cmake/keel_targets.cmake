# Folders and targets (included by keel.cmake). Every library and program of the tree is made by
# one of these functions, which applies the warning set (keel_flags.cmake) and the flags of its
# kind; the caller adds only what is its own (include paths, links, definitions).

# keel_add_subfolders([FIRST <folder>...] [LAST <folder>...] [EXCLUDE_FROM_ALL])
# Adds every subfolder of the current source folder that has a CMakeLists.txt, so that a part lands
# (or is removed) without editing its parent: the FIRST folders in the order given, then the others
# in sorted order, then the LAST folders in the order given. Only the folders whose order matters
# are named; a named folder that does not exist is skipped.
function(keel_add_subfolders)
  cmake_parse_arguments(A "EXCLUDE_FROM_ALL" "" "FIRST;LAST" ${ARGN})
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  list(REMOVE_ITEM children ${A_FIRST} ${A_LAST})
  set(exclude "")
  if(A_EXCLUDE_FROM_ALL)
    set(exclude EXCLUDE_FROM_ALL)
  endif()
  foreach(part IN LISTS A_FIRST children A_LAST)
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${part} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${part}/CMakeLists.txt)
      add_subdirectory(${part} ${exclude})
    endif()
  endforeach()
endfunction()

# keel_add_library(<name> [STATIC|OBJECT|INTERFACE] [DEVICE] [OPTIONS <option>...] [SOURCES <file>...])
# A library (STATIC by default) with the warning set. DEVICE: code that runs on the device —
# compiled with the user-level flags in the aarch64 tree (KEEL_USER_FLAGS: freestanding, no
# exceptions or RTTI) and, in the host tree, with -fno-exceptions -fno-rtti, so host tests exercise
# the code the device runs. Kernel code gets its flags from keel_kernel_flags instead. OPTIONS:
# the library's own code-generation options (private), placed after DEVICE's and before the
# warnings.
function(keel_add_library name)
  cmake_parse_arguments(A "STATIC;OBJECT;INTERFACE;DEVICE" "" "OPTIONS;SOURCES" ${ARGN})
  if(A_INTERFACE)
    add_library(${name} INTERFACE ${A_SOURCES})
    return()
  elseif(A_OBJECT)
    add_library(${name} OBJECT ${A_SOURCES})
  else()
    add_library(${name} STATIC ${A_SOURCES})
  endif()
  if(A_DEVICE AND KEEL_TARGET STREQUAL "aarch64")
    target_compile_options(${name} PRIVATE ${KEEL_USER_OPTIONS})
  elseif(A_DEVICE)
    target_compile_options(${name} PRIVATE ${KEEL_DEVICE_CXX_FLAGS})
  endif()
  if(A_OPTIONS)
    target_compile_options(${name} PRIVATE ${A_OPTIONS})
  endif()
  _keel_warnings(${name})
endfunction()

# keel_add_executable(<name> SOURCES <file>... [LIBS <lib>...]): a program with the warning set —
# host tools, servers, benchmarks (EL0 programs: keel_add_user_program; kernels: keel_kernel_image).
function(keel_add_executable name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  _keel_warnings(${name})
  if(A_LIBS)
    target_link_libraries(${name} PRIVATE ${A_LIBS})
  endif()
endfunction()

# keel_add_user_program(<name> SOURCES <file>... [LIBS <lib>...])   (aarch64 tree)
# A static EL0 ELF (<name>.elf) linked with the user linker script (lib/rt/src/user.ld: text R-X,
# rodata R--, data+bss RW-, based at 4 MiB), crt0, keel_rt (which carries the user-level flags)
# and picolibc (only what the program uses is pulled from libc.a). The root server, the core
# services and the kernel test root tasks are such programs.
function(keel_add_user_program name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES SUFFIX ".elf" LINK_DEPENDS ${KEEL_USER_LINKER_SCRIPT})
  _keel_warnings(${name})
  # An INTERFACE library of LIBS (keel_sodium: Debian's libsodium.a + its shim) has no file of its
  # own, so CMake would put what it links after the group; its link libraries go into the group
  # instead, before picolibc (the shim must be chosen over picolibc's abort and raise, and
  # libsodium.a needs picolibc's memcpy after it).
  set(libs "")
  foreach(lib IN LISTS A_LIBS)
    list(APPEND libs ${lib})
    if(TARGET ${lib})
      get_target_property(type ${lib} TYPE)
      get_target_property(deps ${lib} INTERFACE_LINK_LIBRARIES)
      if(type STREQUAL "INTERFACE_LIBRARY" AND deps)
        list(APPEND libs ${deps})
      endif()
    endif()
  endforeach()
  # One group: crt0 references __keel_rt_start, which references keel_main in the program, which
  # references keel_rt, libkeel and libc, which reference each other (libkeel defines sbrk, _exit
  # and stdout for libc).
  target_link_libraries(${name} PRIVATE -Wl,--start-group keel_rt ${libs} ${KEEL_PICOLIBC_LIBC} -lgcc
                        -Wl,--end-group)
  target_link_options(${name} PRIVATE -nostdlib -static -no-pie -T ${KEEL_USER_LINKER_SCRIPT}
                      -Wl,--gc-sections -Wl,-z,max-page-size=4096 -Wl,--build-id=none
                      -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments)
endfunction()

# keel_add_component(<name> SOURCES <file>... [LIBS <lib>...])   (aarch64 tree)
# A component ELF (<name>.elf): a user program linked with libkeel (lib/keel) and picolibc. The -u
# options pull in libkeel's start hook (so that every component adopts its info page, and
# exits/prints through the root and serial servers, even if it calls nothing else of libkeel) and
# its libc glue before libc.a is searched (else picolibc's own sbrk, over linker-script symbols,
# would be taken and clash).
function(keel_add_component name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  keel_add_user_program(${name} SOURCES ${A_SOURCES} LIBS keel ${A_LIBS})
  target_link_options(${name} PRIVATE -Wl,-u,__keel_component_init -Wl,-u,sbrk)
endfunction()

# keel_add_service_logic(<library> SOURCES <file>... [INCLUDE <dir>] [LIBS <lib>...]
#                        TEST <test name> <file>... [TEST_LIBS <lib>...])
# Host tree only (a no-op elsewhere): a core service's pure logic — the same sources its component
# links, as a DEVICE library (the device's restrictions) with INCLUDE (default include/) public —
# and that logic's unit tests, one GoogleTest binary from the service's test/ folder.
function(keel_add_service_logic lib)
  cmake_parse_arguments(A "" "INCLUDE" "SOURCES;LIBS;TEST;TEST_LIBS" ${ARGN})
  if(NOT KEEL_TARGET STREQUAL "host" OR KEEL_FUZZ)
    return()
  endif()
  if(NOT A_INCLUDE)
    set(A_INCLUDE include)
  endif()
  keel_add_library(${lib} DEVICE SOURCES ${A_SOURCES})
  target_include_directories(${lib} PUBLIC ${A_INCLUDE})
  target_link_libraries(${lib} PUBLIC ${A_LIBS})
  list(POP_FRONT A_TEST test_name)
  keel_add_host_test(${test_name} SOURCES ${A_TEST} LIBS ${lib} ${A_TEST_LIBS})
endfunction()
