// vectors.S — exception vector table, user context save/restore, idle loop.
//
// While a thread runs at EL0, SP_EL1 points at its arch::UserContext (inside its TCB). An
// exception from EL0 therefore stores the user registers straight into the context with no
// scratch register and no copy, then moves to the kernel stack (seL4 uses the same trick).
// restore_user (x0 = context to resume, or null to idle) is the only way back to EL0.
//
// UserContext layout (arch/arch.h): x0..x30 at 0..240, sp 248, pc 256, spsr 264,
// tpidr_el0 272, tpidrro_el0 280.
//
// FP/SIMD is switched lazily (policy in the core, see arch::fpu_grant). While one thread is
// allowed to use FP/SIMD at EL0 (CPACR_EL1.FPEN = 0b11), VBAR_EL1 points at exception_vectors_fp
// instead: the same handlers, but the way back (fp_leave) traps FP/SIMD again whenever it resumes
// any context other than g_fpu_ctx. So the ordinary vectors — every thread that never uses FP —
// pay not one instruction for it. Invariant: g_fpu_ctx != 0 <=> FPEN = 0b11 <=> VBAR = _fp table.

#define CTX_SP     248
#define CTX_PC     256
#define CTX_TPIDR  272
#define ESR_EC_SVC64 0x15

#define ON_SYSCALL _ZN4keel6kernel10on_syscallEPNS_4arch11UserContextE
#define ON_IRQ     _ZN4keel6kernel6on_irqEPNS_4arch11UserContextE
#define FPU_GRANT  _ZN4keel4arch9fpu_grantEPNS0_11UserContextE
#define FPU_REVOKE _ZN4keel4arch10fpu_revokeEv
#define FPU_SAVE   _ZN4keel4arch8fpu_saveEPNS0_8FpuStateE
#define FPU_LOAD   _ZN4keel4arch8fpu_loadEPKNS0_8FpuStateE
#define CPACR_FPEN_ALL (3 << 20)

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

// The vector table while g_fpu_ctx's thread may use FP/SIMD: identical handlers, but every
// return to EL0 goes through fp_leave.
    .balign 2048
    .global exception_vectors_fp
exception_vectors_fp:
    .org exception_vectors_fp + 0x000
    b       el1_unexpected
    .org exception_vectors_fp + 0x080
    b       el1_unexpected
    .org exception_vectors_fp + 0x100
    b       el1_unexpected
    .org exception_vectors_fp + 0x180
    b       el1_unexpected
    .org exception_vectors_fp + 0x200
    b       el1_sync
    .org exception_vectors_fp + 0x280
    b       el1_irq                     // panics: we never idle with FP granted
    .org exception_vectors_fp + 0x300
    b       el1_unexpected
    .org exception_vectors_fp + 0x380
    b       el1_unexpected
    .org exception_vectors_fp + 0x400
    SAVE_USER
    mrs     x1, esr_el1
    lsr     x2, x1, #26
    cmp     x2, #ESR_EC_SVC64
    b.ne    el0_sync_other_fp
    bl      ON_SYSCALL
    b       fp_leave
    .org exception_vectors_fp + 0x480
    SAVE_USER
    bl      ON_IRQ
    b       fp_leave
    .org exception_vectors_fp + 0x500
    b       el1_unexpected
    .org exception_vectors_fp + 0x580
    SAVE_USER
    mrs     x1, esr_el1
    mov     x2, #0
    mov     x3, #1
    bl      arch_el0_fault
    b       fp_leave
    .org exception_vectors_fp + 0x600
    b       el1_unexpected
    .org exception_vectors_fp + 0x680
    b       el1_unexpected
    .org exception_vectors_fp + 0x700
    b       el1_unexpected
    .org exception_vectors_fp + 0x780
    b       el1_unexpected
    .org exception_vectors_fp + 0x800

el0_sync_other_fp:
    mrs     x2, far_el1
    mov     x3, #0
    bl      arch_el0_fault
// x0 = the context to resume (or null). Resuming the granted context keeps FP/SIMD on; anything
// else (another thread, idle) traps it again. The registers keep their values: they belong to
// the core's FP owner, which the core saves on the next trapped use by another thread.
fp_leave:
    adrp    x1, g_fpu_ctx
    ldr     x2, [x1, :lo12:g_fpu_ctx]
    cmp     x0, x2
    b.eq    restore_user
    str     xzr, [x1, :lo12:g_fpu_ctx]
    msr     cpacr_el1, xzr
    adrp    x2, exception_vectors
    add     x2, x2, :lo12:exception_vectors
    msr     vbar_el1, x2
    isb                                 // before the idle loop may take an IRQ
    b       restore_user

// void arch::fpu_grant(UserContext* ctx)
    .global FPU_GRANT
    .type FPU_GRANT, %function
FPU_GRANT:
    adrp    x1, g_fpu_ctx
    str     x0, [x1, :lo12:g_fpu_ctx]
    mov     x1, #CPACR_FPEN_ALL
    msr     cpacr_el1, x1
    adrp    x1, exception_vectors_fp
    add     x1, x1, :lo12:exception_vectors_fp
    msr     vbar_el1, x1
    isb
    ret

// void arch::fpu_revoke()
    .global FPU_REVOKE
    .type FPU_REVOKE, %function
FPU_REVOKE:
    adrp    x1, g_fpu_ctx
    str     xzr, [x1, :lo12:g_fpu_ctx]
    msr     cpacr_el1, xzr
    adrp    x1, exception_vectors
    add     x1, x1, :lo12:exception_vectors
    msr     vbar_el1, x1
    isb
    ret

// arch::FpuState: v0..v31 at 0..511, fpsr 512, fpcr 516. Callers hold a grant (FPEN = 0b11).
    .arch_extension fp
    .arch_extension simd
    .global FPU_SAVE
    .type FPU_SAVE, %function
FPU_SAVE:
    stp     q0, q1, [x0, #0]
    stp     q2, q3, [x0, #32]
    stp     q4, q5, [x0, #64]
    stp     q6, q7, [x0, #96]
    stp     q8, q9, [x0, #128]
    stp     q10, q11, [x0, #160]
    stp     q12, q13, [x0, #192]
    stp     q14, q15, [x0, #224]
    stp     q16, q17, [x0, #256]
    stp     q18, q19, [x0, #288]
    stp     q20, q21, [x0, #320]
    stp     q22, q23, [x0, #352]
    stp     q24, q25, [x0, #384]
    stp     q26, q27, [x0, #416]
    stp     q28, q29, [x0, #448]
    stp     q30, q31, [x0, #480]
    mrs     x1, fpsr
    mrs     x2, fpcr
    str     w1, [x0, #512]
    str     w2, [x0, #516]
    ret

    .global FPU_LOAD
    .type FPU_LOAD, %function
FPU_LOAD:
    ldp     q0, q1, [x0, #0]
    ldp     q2, q3, [x0, #32]
    ldp     q4, q5, [x0, #64]
    ldp     q6, q7, [x0, #96]
    ldp     q8, q9, [x0, #128]
    ldp     q10, q11, [x0, #160]
    ldp     q12, q13, [x0, #192]
    ldp     q14, q15, [x0, #224]
    ldp     q16, q17, [x0, #256]
    ldp     q18, q19, [x0, #288]
    ldp     q20, q21, [x0, #320]
    ldp     q22, q23, [x0, #352]
    ldp     q24, q25, [x0, #384]
    ldp     q26, q27, [x0, #416]
    ldp     q28, q29, [x0, #448]
    ldp     q30, q31, [x0, #480]
    ldr     w1, [x0, #512]
    ldr     w2, [x0, #516]
    msr     fpsr, x1
    msr     fpcr, x2
    ret

    .bss
    .balign 8
    .global g_fpu_ctx
g_fpu_ctx:
    .quad   0
