// root_stub.S — a minimal EL0 ELF, embedded by keel_kernel_image(ROOT_TASK) into the arch
// self-test image so that the embedding path (objcopy, .incbin, BootParams::root_elf) is tested
// before and independently of the real root task. The self-test only inspects its header.
    .text
    .global _start
_start:
    mov     x7, #11        // Yield, forever
    svc     #0
    b       _start
