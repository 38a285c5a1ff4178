// vectors.S — exception vector table, user context save/restore, idle loop.
//
// While a thread runs at EL0, SP_EL1 points at its arch::UserContext (inside its TCB). An
// exception from EL0 therefore stores the user registers straight into the context with no
// scratch register and no copy, then moves to the kernel stack (seL4 uses the same trick).
// restore_user (x0 = context to resume, or null to idle) is the only way back to EL0.
//
// UserContext layout (arch/arch.h): x0..x30 at 0..240, sp 248, pc 256, spsr 264,
// tpidr_el0 272, tpidrro_el0 280.

#define CTX_SP     248
#define CTX_PC     256
#define CTX_TPIDR  272
#define ESR_EC_SVC64 0x15

#define ON_SYSCALL _ZN4keel6kernel10on_syscallEPNS_4arch11UserContextE
#define ON_IRQ     _ZN4keel6kernel6on_irqEPNS_4arch11UserContextE

// Save the EL0 register state into the context at sp, then x0 = context, sp = kernel stack top
// (kept in TPIDR_EL1, which EL0 cannot read or write: one instruction cheaper than adrp/add).
.macro SAVE_USER
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x0, sp_el0
    stp     x30, x0, [sp, #240]
    mrs     x0, elr_el1
    mrs     x1, spsr_el1
    stp     x0, x1, [sp, #CTX_PC]
    mrs     x0, tpidr_el0               // tpidrro_el0 is read-only at EL0: nothing to save
    str     x0, [sp, #CTX_TPIDR]
    mov     x0, sp
    mrs     x1, tpidr_el1               // the kernel stack top (set once at boot)
    mov     sp, x1
.endm

    .section .text.vectors, "ax"
    .balign 2048
    .global exception_vectors
exception_vectors:
// Each entry is placed with .org, so an entry that outgrows its 0x80 bytes fails to assemble
// instead of silently shifting the table.
    // Current EL with SP_EL0: never used (the kernel always runs on SP_EL1).
    .org exception_vectors + 0x000
    b       el1_unexpected
    .org exception_vectors + 0x080
    b       el1_unexpected
    .org exception_vectors + 0x100
    b       el1_unexpected
    .org exception_vectors + 0x180
    b       el1_unexpected
    // Current EL with SP_ELx: a kernel bug, or an IRQ while idling in wfi.
    .org exception_vectors + 0x200
    b       el1_sync
    .org exception_vectors + 0x280
    b       el1_irq
    .org exception_vectors + 0x300
    b       el1_unexpected
    .org exception_vectors + 0x380
    b       el1_unexpected
    // Lower EL, AArch64: the user level. Saved in place, for the shortest syscall path.
    .org exception_vectors + 0x400
el0_sync:
    SAVE_USER
    mrs     x1, esr_el1
    lsr     x2, x1, #26
    cmp     x2, #ESR_EC_SVC64
    b.ne    el0_sync_other
    bl      ON_SYSCALL
    b       restore_user
    .org exception_vectors + 0x480
el0_irq:
    SAVE_USER
    bl      ON_IRQ
    b       restore_user
    .org exception_vectors + 0x500
    b       el1_unexpected              // FIQ: not used (GICv2 group 1 signals IRQ)
    .org exception_vectors + 0x580
el0_serror:
    SAVE_USER
    mrs     x1, esr_el1
    mov     x2, #0
    mov     x3, #1                      // asynchronous: reported as a user exception
    bl      arch_el0_fault
    b       restore_user
    // Lower EL, AArch32: impossible (context_sanitize forces AArch64 EL0t).
    .org exception_vectors + 0x600
    b       el1_unexpected
    .org exception_vectors + 0x680
    b       el1_unexpected
    .org exception_vectors + 0x700
    b       el1_unexpected
    .org exception_vectors + 0x780
    b       el1_unexpected
    .org exception_vectors + 0x800

el0_sync_other:
    mrs     x2, far_el1
    mov     x3, #0
    bl      arch_el0_fault              // boot.cc: classify, then core's on_user_fault
    b       restore_user

// x0 = the context to resume at EL0, or null: nothing runnable, idle until an interrupt.
    .global restore_user
    .type restore_user, %function
restore_user:
    cbz     x0, idle
    mov     sp, x0
    ldp     x1, x2, [sp, #CTX_PC]
    msr     elr_el1, x1
    msr     spsr_el1, x2
    ldp     x3, x4, [sp, #CTX_TPIDR]
    msr     tpidr_el0, x3
    msr     tpidrro_el0, x4
    ldp     x30, x5, [sp, #240]
    msr     sp_el0, x5
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    eret

// The kernel runs with IRQs masked; only here, with nothing to run, are they unmasked. The IRQ
// is taken through el1_irq, which abandons this loop (no state to keep) and calls on_irq(null).
idle:
    adrp    x1, __kstack_top
    add     x1, x1, :lo12:__kstack_top
    mov     sp, x1
idle_wfi:
    msr     daifclr, #2
    wfi
    b       idle_wfi
idle_end:

el1_irq:
    mrs     x0, elr_el1                 // an IRQ in EL1 is legal only while idling
    adr     x1, idle_wfi
    adr     x2, idle_end
    cmp     x0, x1
    b.lo    el1_irq_bad
    cmp     x0, x2
    b.hs    el1_irq_bad
    adrp    x1, __kstack_top
    add     x1, x1, :lo12:__kstack_top
    mov     sp, x1
    mov     x0, #0
    bl      ON_IRQ
    b       restore_user
el1_irq_bad:
    mov     x5, #2
    b       el1_report

el1_sync:
    mov     x5, #0
    b       el1_report
el1_unexpected:
    mov     x5, #1
el1_report:
    // Fresh stack: this may be a kernel stack overflow (guard page) fault.
    adrp    x0, __fault_stack_top
    add     x0, x0, :lo12:__fault_stack_top
    mov     sp, x0
    mov     x4, x30
    mrs     x0, esr_el1
    mrs     x1, elr_el1
    mrs     x2, far_el1
    mrs     x3, spsr_el1
    bl      arch_el1_fault              // boot.cc: print and panic; never returns
1:  wfi
    b       1b
