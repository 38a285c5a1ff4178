// user_prog.S — the EL0 program of the arch self-test (arch_test.cc). Position independent; the
// test copies it into a user frame mapped at 0x400000 (R-X). Thread A (x0 = 0x1234) walks through
// the checks below; thread B (x0 = 0xB) runs in a second address space and reports what it sees
// at 0x900000. Syscall numbers (x7) are the self-test's own, not the Keel ABI.
#define SYS_REGCHECK 2
#define SYS_ARM_TIMER 3
#define SYS_SLEEP 4
#define SYS_SWITCH 5
#define SYS_B_REPORT 6
#define SYS_REMAP 7
#define SYS_EXIT 8
#define SYS_CHECK 9
#define SYS_REMAP_ASID 12

.macro CHECK id            // report x1 for check \id; the kernel compares it with its expectation
    mov     x0, #\id
    mov     x7, #SYS_CHECK
    svc     #0
.endm

    .section .rodata.user_prog, "a"
    .balign 4096
    .global user_prog_start, user_prog_end
user_prog_start:
    cmp     x0, #0xB
    b.eq    thread_b
    cmp     x0, #0xBE
    b.eq    bench
    mov     x1, x0
    CHECK   1                       // x0 = arg0 from context_init
    mov     x1, sp
    CHECK   2                       // sp from context_init

    // Every register survives a kernel entry/exit (the kernel checks what it saved, then
    // returns 0x5a5 in x0).
    mov x1, #0x101
    mov x2, #0x102
    mov x3, #0x103
    mov x4, #0x104
    mov x5, #0x105
    mov x6, #0x106
    mov x8, #0x108
    mov x9, #0x109
    mov x10, #0x10a
    mov x11, #0x10b
    mov x12, #0x10c
    mov x13, #0x10d
    mov x14, #0x10e
    mov x15, #0x10f
    mov x16, #0x110
    mov x17, #0x111
    mov x18, #0x112
    mov x19, #0x113
    mov x20, #0x114
    mov x21, #0x115
    mov x22, #0x116
    mov x23, #0x117
    mov x24, #0x118
    mov x25, #0x119
    mov x26, #0x11a
    mov x27, #0x11b
    mov x28, #0x11c
    mov x29, #0x11d
    mov x30, #0x11e
    mov x0, #0x100
    mov x7, #SYS_REGCHECK
    svc #0
    cmp x0, #0x5a5
    b.ne regfail
    .irp n, 1,2,3,4,5,6,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    cmp x\n, #(0x100 + \n)
    b.ne regfail
    .endr
    cmp x7, #SYS_REGCHECK
    b.ne regfail
    mov x1, sp
    movz x2, #0x80, lsl #16
    add x2, x2, #0x1000
    cmp x1, x2
    b.ne regfail
    mov x1, #1
    b 1f
regfail:
    mov x1, #0
1:  CHECK   3

    // EL0 reads the PMU cycle counter and the virtual counter.
    mrs     x9, pmccntr_el0
    nop
    nop
    mrs     x10, pmccntr_el0
    cmp     x10, x9
    cset    x1, hi
    CHECK   4
    mrs     x9, cntvct_el0
    cmp     x9, #0
    cset    x1, ne
    CHECK   5

    // Faults, each checked by the kernel's on_user_fault, which resumes after the instruction
    // (or at x30 for the instruction abort).
    movz    x9, #0x90, lsl #16
    str     x1, [x9]                // 1: write to a read-only page
    movz    x9, #0x50, lsl #16
    blr     x9                      // 2: execute an unmapped page
    udf     #0                      // 3: undefined instruction
    fmov    d0, x1                  // 4: FP/SIMD is trapped
    movz    x9, #0xffff, lsl #48
    movk    x9, #0x4020, lsl #16
    ldr     x1, [x9]                // 5: read kernel memory
    msr     daifset, #2             // 6: mask interrupts from EL0
    msr     pmcr_el0, xzr           // 7: reconfigure the PMU from EL0
    wfi                             // 8: wfi traps (a thread cannot stall the CPU)
    mov     x1, #1
    CHECK   6

    // A timer interrupt taken at EL0: the kernel's on_irq sets x19 in the saved context.
    mov     x19, #0
    mov     x20, #0
    mov     x7, #SYS_ARM_TIMER
    svc     #0
2:  add     x20, x20, #1
    tbnz    x20, #26, 3f            // give up after 2^26 iterations
    cbz     x19, 2b
3:  mov     x1, x19
    CHECK   7

    // Sleep: the kernel idles (wfi at EL1) until the timer fires, then resumes us with x0 = 1.
    mov     x7, #SYS_SLEEP
    svc     #0
    mov     x1, x0
    CHECK   8

    // Address spaces: 0x900000 holds 0x1111 here and 0x2222 in thread B's space (ASID 2).
    movz    x9, #0x90, lsl #16
    ldr     x1, [x9]
    CHECK   9
    mov     x7, #SYS_SWITCH
    svc     #0
    movz    x9, #0x90, lsl #16
    ldr     x1, [x9]
    CHECK   10
    // The kernel remaps 0x900000 to a page holding 0x3333 and invalidates that TLB entry.
    mov     x7, #SYS_REMAP
    svc     #0
    movz    x9, #0x90, lsl #16
    ldr     x1, [x9]
    CHECK   11
    // Again, this time invalidating the whole ASID (the stale entry for 0x3333 is in the TLB).
    mov     x7, #SYS_REMAP_ASID
    svc     #0
    movz    x9, #0x90, lsl #16
    ldr     x1, [x9]
    CHECK   12
    // A read-write page, and a 2 MiB block mapping.
    movz    x9, #0xa0, lsl #16
    mov     x2, #0xabc
    str     x2, [x9, #8]
    ldr     x1, [x9, #8]
    CHECK   13
    movz    x9, #0x2010, lsl #16
    ldr     x1, [x9, #8]
    CHECK   14
    mov     x7, #SYS_EXIT
    svc     #0
4:  b       4b

// Null-syscall cost for the arch-bench image (x0 = 0xBE): PMU cycles (= instructions under
// -icount shift=0) from just before `svc` to just after the return, minus the cost of reading the
// counter; the kernel's handler for SYS_NULL only returns the context. Repeated so that the
// first-run effects (none under icount, but a real core would have them) are visible as the min.
#define SYS_NULL 10
#define SYS_BENCH_REPORT 11
bench:
    mov     x19, #16                // iterations
    mov     x23, #-1                // minimum so far
5:  isb
    mrs     x20, pmccntr_el0
    mrs     x21, pmccntr_el0
    sub     x22, x21, x20           // cost of one counter read
    mov     x7, #SYS_NULL
    isb
    mrs     x20, pmccntr_el0
    svc     #0
    mrs     x21, pmccntr_el0
    sub     x1, x21, x20
    sub     x1, x1, x22
    cmp     x1, x23
    csel    x23, x1, x23, lo
    subs    x19, x19, #1
    b.ne    5b
    mov     x1, x23
    mov     x7, #SYS_BENCH_REPORT
    svc     #0
6:  b       6b

thread_b:
    movz    x9, #0x90, lsl #16
    ldr     x1, [x9]
    mov     x7, #SYS_B_REPORT
    svc     #0
    b       thread_b
user_prog_end:

// pmu_loop(n, counter): runs a 2n-instruction loop and returns how far the PMU counter moved
// (counter 0: cycle counter, 1: event counter 0 = INST_RETIRED). Kernel-side, for the PMU check.
    .text
    .global pmu_loop
    .type pmu_loop, %function
pmu_loop:
    cbnz    x1, 2f
    isb
    mrs     x3, pmccntr_el0
1:  subs    x0, x0, #1
    b.ne    1b
    mrs     x4, pmccntr_el0
    sub     x0, x4, x3
    ret
2:  isb
    mrs     x3, pmevcntr0_el0
3:  subs    x0, x0, #1
    b.ne    3b
    mrs     x4, pmevcntr0_el0
    sub     x0, x4, x3
    ret
