# Compile flags of the tree, in one place (included by keel.cmake). The functions of
# keel_targets.cmake apply them; parts never spell them out.

# KEEL_WARNINGS: the project's warning set, as errors, for every target (_keel_warnings below).
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

# _keel_warnings(<target>): KEEL_WARNINGS on the target's C and C++ sources (keel_add_* call it).
function(_keel_warnings target)
  # -Wnon-virtual-dtor is C++-only (GCC rejects it for C sources such as C components).
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C,CXX>:${KEEL_WARNINGS}>
                         $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
endfunction()

# Device C++ has no exceptions and no RTTI: there is no unwinder and no type information on the
# device. Host builds of device code (keel_add_library(... DEVICE) on the host) use the same two
# flags, so a throw/typeid/dynamic_cast creeping into shared code breaks the host build too.
set(KEEL_DEVICE_CXX_FLAGS -fno-exceptions -fno-rtti)

if(KEEL_TARGET STREQUAL "host")
  if(KEEL_SANITIZE)
    set(KEEL_SAN_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      # Clang 14's -fsanitize=function (part of "undefined"; GCC has no such check) cannot compile
      # C++20 coroutines ("Cannot represent a difference across sections": fleet/server/server.cc,
      # console_ws.cc, fleet/bus). Every other UBSan check stays.
      list(APPEND KEEL_SAN_FLAGS -fno-sanitize=function)
    endif()
    add_compile_options(${KEEL_SAN_FLAGS})
    add_link_options(${KEEL_SAN_FLAGS})
  endif()
  if(KEEL_FUZZ)
    # Coverage instrumentation for everything a fuzz target links; the targets add the driver.
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
  endif()
  find_package(Threads REQUIRED)
  # Host programs link with lld (Debian's lld, installed by scripts/setup.sh) when it is there: the
  # ASan test binaries, with their debug info, link several times faster than with GNU ld
  # (docs/performance.md, "Build and test time"). Without it the default linker is used.
  find_program(KEEL_LLD ld.lld)
  if(KEEL_LLD)
    add_link_options(-fuse-ld=lld)
  endif()
endif()

if(KEEL_TARGET STREQUAL "aarch64")
  # ---- Kernel (EL1): freestanding, no FP/SIMD, no runtime. Used by keel_kernel_flags
  # (kernel/CMakeLists.txt), which carries them to every kernel target.
  set(KEEL_KERNEL_CMODEL "small" CACHE STRING "aarch64 -mcmodel for the kernel (small or large)")
  set(KEEL_KERNEL_CXX_FLAGS ${KEEL_DEVICE_CXX_FLAGS} -fno-threadsafe-statics -fno-use-cxa-atexit)
  set(KEEL_KERNEL_FLAGS -ffreestanding -mgeneral-regs-only -fno-stack-protector -fno-pie
      -fno-pic -fno-builtin -fno-omit-frame-pointer -mcmodel=${KEEL_KERNEL_CMODEL} -O2)
  # Added for kernel/arch/aarch64 (and its self-test): no outline atomics (they need libgcc's HWCAP
  # probing, which has no place in a kernel), no unwind tables, one section per function so the
  # linker can drop unused code.
  set(KEEL_KERNEL_ARCH_FLAGS -mno-outline-atomics -fno-asynchronous-unwind-tables -fno-unwind-tables
      -ffunction-sections -fdata-sections)
  # Link-time optimisation of the kernel (arch + core): lets the core inline the small arch
  # mechanisms (vspace_activate, pte helpers, timer, irq) on its hot paths. Fat objects keep the
  # static archive usable by a plain `ar` index.
  option(KEEL_KERNEL_LTO "Link-time optimise the kernel (arch + core)" ON)
  if(KEEL_KERNEL_LTO)
    list(APPEND KEEL_KERNEL_ARCH_FLAGS -flto -ffat-lto-objects)
  endif()
  set(KEEL_KERNEL_LINKER_SCRIPT ${CMAKE_SOURCE_DIR}/kernel/arch/aarch64/kernel.ld)

  # ---- User level (EL0): static programs linked with lib/rt and picolibc.
  # picolibc (Debian picolibc-aarch64-linux-gnu) is the C library of EL0 programs: its headers come
  # before the cross compiler's glibc headers, its libc.a is linked after the runtime.
  set(KEEL_PICOLIBC_DIR /usr/lib/picolibc/aarch64-linux-gnu CACHE PATH "picolibc for aarch64 (include/, lib/libc.a)")
  if(NOT EXISTS ${KEEL_PICOLIBC_DIR}/lib/libc.a OR NOT EXISTS ${KEEL_PICOLIBC_DIR}/include/stdio.h)
    message(FATAL_ERROR "picolibc not found in ${KEEL_PICOLIBC_DIR}: run scripts/setup.sh "
                        "(package picolibc-aarch64-linux-gnu)")
  endif()
  set(KEEL_PICOLIBC_LIBC ${KEEL_PICOLIBC_DIR}/lib/libc.a)
  # Flags every EL0 program is compiled with. FP/SIMD is allowed: the kernel switches its state per
  # thread (lazily; docs/kernel-arch.md), and picolibc's string routines use it. TLS is local-exec
  # (static programs; the block follows the IPC buffer, see lib/rt/src/user.ld). No exceptions/RTTI:
  # no unwinder.
  set(KEEL_USER_FLAGS
      -ffreestanding -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-stack-protector -fno-pie
      -fno-common -ffunction-sections -fdata-sections -mno-outline-atomics -ftls-model=local-exec -O2 -g
      -isystem ${KEEL_PICOLIBC_DIR}/include)
  set(KEEL_USER_CXX_FLAGS ${KEEL_DEVICE_CXX_FLAGS} -fno-threadsafe-statics)
  set(KEEL_USER_LINKER_SCRIPT ${CMAKE_SOURCE_DIR}/lib/rt/src/user.ld)
  # KEEL_USER_OPTIONS: both, per language. keel_add_library(... DEVICE) compiles a user-level
  # library with them; keel_user_flags carries them as a usage requirement, which keel_rt passes
  # on to every program and library linked with it.
  set(KEEL_USER_OPTIONS $<$<COMPILE_LANGUAGE:C,CXX>:${KEEL_USER_FLAGS}> $<$<COMPILE_LANGUAGE:CXX>:${KEEL_USER_CXX_FLAGS}>)
  add_library(keel_user_flags INTERFACE)
  target_compile_options(keel_user_flags INTERFACE ${KEEL_USER_OPTIONS})
endif()
