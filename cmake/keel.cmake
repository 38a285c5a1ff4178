# Build helpers of Keel, included once by the top-level CMakeLists.txt. Every CMake function of the
# tree is defined in this folder, documented where it is defined:
#
#   keel_flags.cmake    compile flags: the warning set, sanitizers, and the flag sets of device code
#                       (kernel, user level, device libraries built on the host)
#   keel_targets.cmake  keel_add_subfolders, keel_add_library, keel_add_executable,
#                       keel_add_user_program, keel_add_component, keel_add_service_logic: every
#                       target of the tree is made by one of them, which applies the warnings and
#                       the flags of its kind
#   keel_tests.cmake    keel_add_host_test, keel_add_qemu_test, keel_add_fuzz, keel_add_bench,
#                       keel_bench_program
#   keel_images.cmake   keel_kernel_image, keel_system_image: bootable aarch64 images
#
# Parts call only these functions (and plain target_* commands for what is their own: include
# paths, links, definitions); no CMakeLists.txt repeats the warnings or the device flags.

include(keel_flags)
include(keel_targets)
include(keel_tests)
include(keel_images)
