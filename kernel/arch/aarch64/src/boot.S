// boot.S — first instructions of the Keel kernel on aarch64 (QEMU virt).
//
// QEMU enters _start_phys (the ELF entry, a physical address) with the MMU off at the highest
// implemented EL: EL1 with the standard options, EL2 with virtualization=on, EL3 with secure=on.
// We drop to EL1, zero .bss, build a two-table early map (one 1 GiB block holding the kernel,
// reachable both at its physical address through TTBR0 and at its high-half address through
// TTBR1), turn the MMU on, jump to the high half and call arch_boot_main (boot.cc), which builds
// the final tables and never returns.

#define SCTLR_EL1_RES1    0x30d00800      // bits 11, 20, 22, 23, 28, 29 (ARMv8.0)
#define SCTLR_EL1_MMU_ON  0x34d4d815      // RES1|M|C|SA0|I|DZE|UCT|nTWE|UCI (no WXN yet, no SA)
#define TCR_EL1_VALUE     0x10b5103510    // T0SZ=T1SZ=16, 4K granules, WBWA inner-shareable, AS=1
#define MAIR_EL1_VALUE    0x44ff04        // Attr0 Device-nGnRE, Attr1 Normal WB, Attr2 Normal NC
#define EARLY_BLOCK       0x705           // block | AttrIdx1 | SH inner | AF (EL1 RW, executable)
#define SPSR_EL1H_MASKED  0x3c5           // EL1h, D/A/I/F masked
#define GICD_PA           0x08000000
#define GICC_PA           0x08010000

    .section .text.boot, "ax"
    .global _start
    .type _start, %function
_start:
    msr     daifset, #0xf
    mrs     x9, CurrentEL
    lsr     x9, x9, #2
    adrp    x10, arch_boot_el             // .data, not .bss: survives the .bss clear below
    add     x10, x10, :lo12:arch_boot_el
    str     x9, [x10]
    cmp     x9, #3
    b.eq    from_el3
    cmp     x9, #2
    b.eq    from_el2
    b       el1_entry

from_el3:
    // Secure GIC set-up must happen here: put every interrupt in Group 1 (non-secure) so that the
    // kernel at non-secure EL1 can configure and receive it.
    ldr     x0, =GICD_PA
    ldr     w1, [x0, #4]                  // GICD_TYPER.ITLinesNumber
    and     w1, w1, #0x1f
    add     w1, w1, #1                    // number of IGROUPR registers
    add     x2, x0, #0x80
    mov     w3, #-1
1:  str     w3, [x2], #4
    subs    w1, w1, #1
    b.ne    1b
    mov     w3, #3
    str     w3, [x0]                      // GICD_CTLR: EnableGrp0 | EnableGrp1
    ldr     x0, =GICC_PA
    mov     w3, #0xff
    str     w3, [x0, #4]                  // GICC_PMR: let every priority through
    mov     w3, #3
    str     w3, [x0]                      // GICC_CTLR (secure view): both groups
    mov     x9, #0x4b1                    // SCR_EL3: NS | RES1(4,5) | SMD | RW (EL2/EL1 AArch64)
    msr     scr_el3, x9
    msr     cptr_el3, xzr                 // no FP/SIMD or trace traps to EL3
    msr     mdcr_el3, xzr                 // no PMU/debug traps to EL3
    bl      configure_el2
    mov     x9, #SPSR_EL1H_MASKED
    msr     spsr_el3, x9
    adr     x9, el1_entry
    msr     elr_el3, x9
    eret

from_el2:
    bl      configure_el2
    mov     x9, #SPSR_EL1H_MASKED
    msr     spsr_el2, x9
    adr     x9, el1_entry
    msr     elr_el2, x9
    eret

// EL2 registers that decide how EL1 runs (writable from EL3 and EL2): AArch64 EL1, no stage 2,
// no traps of counters, PMU, FP or ID registers.
configure_el2:
    mov     x9, #(1 << 31)                // HCR_EL2.RW
    msr     hcr_el2, x9
    mov     x9, #3                        // CNTHCTL_EL2: EL1PCTEN | EL1PCEN
    msr     cnthctl_el2, x9
    msr     cntvoff_el2, xzr
    msr     vttbr_el2, xzr
    mov     x9, #0x33ff                   // CPTR_EL2: RES1 bits only (TFP clear)
    msr     cptr_el2, x9
    msr     hstr_el2, xzr
    mrs     x9, pmcr_el0                  // MDCR_EL2.HPMN = all counters; no TPM/TPMCR traps
    ubfx    x9, x9, #11, #5
    msr     mdcr_el2, x9
    ldr     x9, =SCTLR_EL1_RES1
    msr     sctlr_el1, x9
    ret

el1_entry:
    msr     daifset, #0xf
    ldr     x9, =SCTLR_EL1_RES1           // MMU and caches off, little-endian
    msr     sctlr_el1, x9
    isb
    adrp    x9, __kstack_top              // PC-relative: physical while the MMU is off
    add     x9, x9, :lo12:__kstack_top
    mov     sp, x9

    // Zero .bss (page tables and stacks live there). QEMU zero-fills it already; a warm restart
    // or another loader may not.
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
2:  cmp     x0, x1
    b.hs    3f
    stp     xzr, xzr, [x0], #16
    b       2b
3:
    // Early map: L0[0] -> L1; L1[pa >> 30] = 1 GiB block at the kernel's GiB. With T0SZ = T1SZ =
    // 16 the same two tables translate both the identity address and pa + 0xffff000000000000.
    adrp    x0, early_l0
    adrp    x1, early_l1
    orr     x2, x1, #3
    str     x2, [x0]
    adrp    x3, _start
    lsr     x4, x3, #30
    and     x4, x4, #511
    lsl     x5, x4, #30
    mov     x6, #EARLY_BLOCK
    orr     x5, x5, x6
    str     x5, [x1, x4, lsl #3]
    dsb     sy
    // The walker will read these through the cacheable early map: drop any stale cache lines a
    // previous boot stage may have left for them (QEMU has no caches; hardware does).
    dc      ivac, x0
    add     x7, x1, x4, lsl #3
    dc      ivac, x7
    dsb     sy

    ldr     x9, =MAIR_EL1_VALUE
    msr     mair_el1, x9
    ldr     x9, =TCR_EL1_VALUE
    mrs     x10, id_aa64mmfr0_el1         // IPS = the CPU's physical address range
    and     x10, x10, #7
    bfi     x9, x10, #32, #3
    msr     tcr_el1, x9
    msr     ttbr0_el1, x0
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    ic      iallu
    dsb     nsh
    isb
    ldr     x9, =SCTLR_EL1_MMU_ON
    msr     sctlr_el1, x9
    isb
    ldr     x9, =high_entry               // absolute: the high-half (link) address
    br      x9

high_entry:
    ldr     x9, =__kstack_top
    mov     sp, x9
    msr     tpidr_el1, x9                 // vectors.S reloads the kernel stack from here
    ldr     x9, =exception_vectors
    msr     vbar_el1, x9
    isb
    mov     x29, #0
    mov     x30, #0
    bl      arch_boot_main                // never returns
4:  wfi
    b       4b
    .ltorg

    .section .data.boot_el, "aw"
    .balign 8
    .global arch_boot_el
arch_boot_el: .quad 0                     // the exception level QEMU entered us at (printed)

    .section .bss.early_tables, "aw", %nobits
    .balign 4096
early_l0: .skip 4096
early_l1: .skip 4096

// The single kernel stack (the kernel is event-driven: every entry starts on an empty stack),
// with an unmapped guard page below it, and a small separate stack for EL1 fault reports so a
// stack overflow can still be reported.
    .section .bss.kstack, "aw", %nobits
    .balign 4096
    .global __kstack_guard, __kstack_bottom, __kstack_top, __fault_stack_top
__kstack_guard: .skip 4096
__kstack_bottom: .skip 16384
__kstack_top:
    .skip 4096
__fault_stack_top:

// mmu_switch_ttbr1(x0 = new TTBR1): replace the kernel's tables without ever holding TLB entries
// from both (break-before-make for the 1 GiB early block): executes from the identity map in
// TTBR0 while TTBR1 changes, then returns to the caller's high-half address.
    .section .text.boot, "ax"
    .global mmu_switch_ttbr1
    .type mmu_switch_ttbr1, %function
mmu_switch_ttbr1:
    adr     x9, 1f
    ldr     x10, =0xffff000000000000
    sub     x9, x9, x10
    br      x9                            // continue at the physical alias
1:  dsb     ishst
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    dsb     ish
    isb
    ret                                   // x30 is a high-half address: the new tables map it
    .ltorg
