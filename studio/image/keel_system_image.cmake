# keel_system_image(NAME <name> MANIFEST <manifest.toml> ROOT_TASK <target> [DEPENDS <targets/files>...])
# For the aarch64 build tree: compiles the manifest, packs the boot archive (boot spec + the
# component ELFs the manifest names) into the ROOT_TASK's ELF (studio/image, docs/boot-spec.md),
# and links build/aarch64/images/<name>.elf with keel_kernel_image() — one bootable image.
# DEPENDS: the targets building the component ELFs (so they are built first).
#
# The packer is a host program; this tree's compiler is the cross compiler, so the packer is
# compiled once per build tree with the host C++ compiler (same sources as studio/image).
include_guard(GLOBAL)

set(_KEEL_IMAGE_SRC ${CMAKE_CURRENT_LIST_DIR}/..)  # studio/
function(_keel_host_image_tool out_var)
  set(tool ${CMAKE_BINARY_DIR}/host-tools/keel-image)
  if(NOT TARGET keel_host_image_tool)
    find_program(KEEL_HOST_CXX NAMES g++ c++ REQUIRED)
    set(s ${_KEEL_IMAGE_SRC})
    set(l ${_KEEL_IMAGE_SRC}/../lib)
    set(srcs ${s}/manifest/src/compiler.cc ${s}/image/src/image.cc ${s}/image/src/main.cc
             ${l}/bootspec/src/reader.cc ${l}/bootspec/src/archive.cc ${l}/bootspec/src/elf.cc ${l}/bootspec/src/writer.cc
             ${l}/bootspec/src/archive_writer.cc)
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/host-tools)
    add_custom_command(OUTPUT ${tool}
      COMMAND ${KEEL_HOST_CXX} -std=c++20 -O1 -DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1
              "-DKEEL_PLATFORM_DIR=\"${s}/manifest/platforms\"" -I${s}/manifest/include -I${s}/image/include
              -I${l}/bootspec/include -I${l}/base/include ${srcs} -ltomlplusplus -o ${tool}
      DEPENDS ${srcs}
      COMMENT "Building the host image builder (keel-image) for this tree" VERBATIM)
    add_custom_target(keel_host_image_tool DEPENDS ${tool})
  endif()
  set(${out_var} ${tool} PARENT_SCOPE)
endfunction()

function(keel_system_image)
  cmake_parse_arguments(A "" "NAME;MANIFEST;ROOT_TASK" "DEPENDS" ${ARGN})
  if(NOT A_NAME OR NOT A_MANIFEST OR NOT A_ROOT_TASK)
    message(FATAL_ERROR "keel_system_image: NAME, MANIFEST and ROOT_TASK are required")
  endif()
  _keel_host_image_tool(tool)
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/system-${A_NAME})
  set(packed ${gen}/${A_NAME}-root.elf)
  file(MAKE_DIRECTORY ${gen})
  add_custom_command(OUTPUT ${packed} ${gen}/${A_NAME}.spec
    COMMAND ${tool} --manifest ${A_MANIFEST} --root $<TARGET_FILE:${A_ROOT_TASK}> -o ${packed}
            --spec ${gen}/${A_NAME}.spec
    DEPENDS ${tool} keel_host_image_tool ${A_ROOT_TASK} $<TARGET_FILE:${A_ROOT_TASK}> ${A_MANIFEST} ${A_DEPENDS}
    COMMENT "Packing boot spec + component ELFs of ${A_NAME} into its root server" VERBATIM)
  add_executable(${A_NAME}-packed-root IMPORTED)
  set_target_properties(${A_NAME}-packed-root PROPERTIES IMPORTED_LOCATION ${packed})
  keel_kernel_image(NAME ${A_NAME} ROOT_TASK ${A_NAME}-packed-root)
endfunction()
