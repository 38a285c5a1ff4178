// object/vspace.h — address spaces, page tables, frames and ASIDs (generic logic over the
// PTE helpers of arch.h).
#pragma once

#include "core/cap.h"
#include "core/invocation.h"

namespace keel::kernel {

using arch::pte_t;

// The root table holds user VAs [0, 2^47): level-0 entries 0..255. Entry 511 is never valid
// for the hardware (bit 0 clear); the kernel keeps the VSpace's activation token there
// (arch::vspace_token: root table and ASID; 0 while it has no ASID).
inline constexpr unsigned kAsidEntry = 511;
inline unsigned vspace_asid(const pte_t* root) { return arch::vspace_token_asid(root[kAsidEntry]); }
inline pte_t vspace_token(const pte_t* root) { return root[kAsidEntry]; }
inline void vspace_set_asid(pte_t* root, unsigned asid) { root[kAsidEntry] = arch::vspace_token(arch::kvtop(root), asid); }

struct AsidPool {
  pte_t* entries[1u << KEEL_ASID_LOW_BITS];  // VSpace roots
};
static_assert(sizeof(AsidPool) == (1u << KEEL_ASID_POOL_BITS));
extern AsidPool* g_asid_pools[1u << KEEL_ASID_HIGH_BITS];

pte_t* find_vspace(unsigned asid);
// The root table of a VSpace capability given as invocation argument `index`, if it has an ASID
// (InvalidCapability(index) otherwise).
Result<pte_t*> vspace_arg(const Cap& cap, unsigned index);
// Walk `root` to the entry for `va` at `level` (0..3); nullptr if a table is missing.
pte_t* vspace_walk(pte_t* root, vaddr_t va, unsigned level);
// Switch TTBR0 to the VSpace of a thread's VSpace cap; nothing to do when it is already active.
extern word_t g_active_root;
void vspace_switch(const Cap& vspace_cap);
inline void vspace_activate_for(const Cap& vs) {
  if (vs.object() != g_active_root || !cap_is(vs, CapType::kVSpace)) vspace_switch(vs);
}

// Frames (a mapping is recorded in the frame capability that made it).
void frame_unmap(Cap& frame);
// Page tables.
void page_table_unmap(Cap& pt);
void vspace_finalise(pte_t* root);
void asid_pool_finalise(AsidPool* pool);
// Map a page at boot (allocating tables with `alloc`); returns false when out of memory.
// alloc_table(cookie, va, level) returns a zeroed table that will sit at `level` (1..3).
bool vspace_map_boot(pte_t* root, vaddr_t va, paddr_t pa, unsigned bits, arch::PageAttr attr,
                     void* (*alloc_table)(void* cookie, vaddr_t va, unsigned level), void* cookie);
arch::PageAttr vm_attr(word_t rights, word_t attr, Memory memory);

// Invocations of Frame, PageTable, ASIDControl and ASIDPool capabilities.
Result<> decode_frame_invocation(Invocation& inv);
Result<> decode_page_table_invocation(Invocation& inv);
Result<> decode_asid_control_invocation(Invocation& inv);
Result<> decode_asid_pool_invocation(Invocation& inv);

}  // namespace keel::kernel
