// crt0 for statically linked Keel EL0 programs (aarch64).
//
// Entry state set by the kernel (see abi/ and docs/syscalls.md): x0 = boot-info pointer (root task)
// or thread argument, sp = initial stack. The kernel zero-fills memsz beyond filesz, but .bss is
// cleared here too so that a program started by a loader that does not (or a restarted one) still
// sees C semantics. If sp is 0 (no stack given: a loader bug, the kernel and the root server always
// give one) the program reports it on a 1 KiB emergency stack in .bss and exits with 124, rather
// than faulting on the first push (1 KiB: a bigger .bss stack would be pages every program pays
// for and none uses).
    .section .text.start, "ax"
    .global _start
    .type _start, %function
_start:
    mov     x19, x0                 // keep the boot-info pointer across the bss clear
    mov     x9, sp
    cbnz    x9, 1f
    adrp    x9, __keel_fallback_stack_top
    add     x9, x9, :lo12:__keel_fallback_stack_top
    mov     sp, x9
    mov     x0, x19
    bl      __keel_rt_no_stack      // reports and exits; never returns
1:  and     x9, x9, #~15            // AAPCS64: sp 16-byte aligned
    mov     sp, x9
    mov     x29, #0                 // terminate frame-pointer chains for debuggers
    mov     x30, #0
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
2:  cmp     x1, x2
    b.hs    3f
    str     xzr, [x1], #8
    b       2b
3:  mov     x0, x19
    bl      __keel_rt_start         // C++: constructors, main, exit; never returns
4:  b       4b
    .size _start, . - _start

    .section .bss.fallback_stack, "aw", %nobits
    .balign 16
__keel_fallback_stack:
    .space  1024
__keel_fallback_stack_top:
