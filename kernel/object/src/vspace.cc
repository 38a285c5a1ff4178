// vspace.cc — generic page-table logic over arch.h's PTE helpers; ASID pools.
#include "object/vspace.h"

namespace keel::kernel {

AsidPool* g_asid_pools[1u << KEEL_ASID_HIGH_BITS];
void sched_forget_vspace(word_t root);

static unsigned pt_index(vaddr_t va, unsigned level) {
  return static_cast<unsigned>((va >> (arch::kPageBits + arch::kPtIndexBits * (3 - level))) & 511u);
}
// Bytes covered by one entry of a table at `level`.
static unsigned entry_bits(unsigned level) { return arch::kPageBits + arch::kPtIndexBits * (3 - level); }

pte_t* find_vspace(unsigned asid) {
  if (asid == 0 || asid >= (1u << (KEEL_ASID_HIGH_BITS + KEEL_ASID_LOW_BITS))) return nullptr;
  AsidPool* pool = g_asid_pools[asid >> KEEL_ASID_LOW_BITS];
  if (pool == nullptr) return nullptr;
  return pool->entries[asid & mask_bits(KEEL_ASID_LOW_BITS)];
}

pte_t* vspace_walk(pte_t* root, vaddr_t va, unsigned level) {
  pte_t* table = root;
  for (unsigned l = 0; l < level; ++l) {
    pte_t e = table[pt_index(va, l)];
    if (!arch::pte_valid(e) || !arch::pte_is_table(e, l)) return nullptr;
    table = static_cast<pte_t*>(arch::ptokv(arch::pte_address(e)));
  }
  return &table[pt_index(va, level)];
}

arch::PageAttr vm_attr(word_t rights, word_t attr, bool device) {
  arch::PageAttr a;
  a.read = true;
  a.write = (rights & KEEL_RIGHT_WRITE) != 0;
  // W^X: writable mappings are never executable.
  a.execute = !a.write && (attr & KEEL_VM_EXECUTE_NEVER) == 0 && !device;
  a.device = device || (attr & KEEL_VM_CACHEABLE) == 0;
  return a;
}

static unsigned frame_level(const Cap& frame) { return frame.bits == KEEL_LARGE_PAGE_BITS ? 2 : 3; }

// Validate a Page_Map. Returns whether this is a remap of the same mapping (rights change).
KResult<bool> frame_map_check(const Cap& frame, const Cap& vs, vaddr_t va, word_t rights, word_t attr) {
  (void)attr;
  if (vs.type != CapType::kVSpace) return fail_cap(1);
  pte_t* root = vs.as<pte_t>();
  unsigned asid = vspace_asid(root);
  if (asid == 0 || find_vspace(asid) != root) return fail_cap(1);
  if (!is_aligned(va, frame.bits)) return fail(KEEL_ALIGNMENT_ERROR);
  if (va >= KEEL_USER_TOP || KEEL_USER_TOP - va < (word_t{1} << frame.bits)) return fail_arg(0);
  // Asking for a right the frame capability lacks is an error, not a silent downgrade.
  if ((rights & KEEL_RIGHT_READ) == 0 || (rights & (KEEL_RIGHT_READ | KEEL_RIGHT_WRITE) & ~word_t{frame.rights}) != 0)
    return fail_arg(1);
  bool remap = false;
  if (frame.aux != 0) {
    if (frame.aux != asid || frame.w1 != va) return fail_cap(0);
    remap = true;
  }
  unsigned level = frame_level(frame);
  pte_t* e = vspace_walk(root, va, level);
  if (e == nullptr) {
    g_lookup_fault = LookupFault{KEEL_LOOKUP_MISSING_CAPABILITY, entry_bits(level - 1), 0, 0};
    return fail_lookup(false);
  }
  if (arch::pte_valid(*e) && !remap) return fail(KEEL_DELETE_FIRST);
  return remap;
}

void frame_map(Slot* fs, const Cap& vs, vaddr_t va, word_t rights, word_t attr) {
  Cap& frame = fs->cap;
  pte_t* root = vs.as<pte_t>();
  unsigned asid = vspace_asid(root);
  unsigned level = frame_level(frame);
  pte_t* e = vspace_walk(root, va, level);
  bool was_valid = arch::pte_valid(*e);
  arch::pte_store(e, arch::pte_page(arch::kvtop(reinterpret_cast<void*>(frame.obj)), level,
                                    vm_attr(frame.rights & rights, attr, frame.flags != 0)));
  if (was_valid) arch::tlb_invalidate_page(asid, va);
  frame.aux = asid;
  frame.w1 = va;
}

void frame_unmap(Cap& frame) {
  pte_t* root = find_vspace(frame.aux);
  if (root != nullptr) {
    unsigned level = frame_level(frame);
    pte_t* e = vspace_walk(root, frame.w1, level);
    if (e != nullptr && arch::pte_valid(*e) && !arch::pte_is_table(*e, level) &&
        arch::pte_address(*e) == arch::kvtop(reinterpret_cast<void*>(frame.obj))) {
      arch::pte_store(e, 0);
      arch::tlb_invalidate_page(frame.aux, frame.w1);
    }
  }
  frame.aux = 0;
  frame.w1 = 0;
}

void page_table_unmap(Cap& pt) {
  pte_t* root = find_vspace(pt.aux);
  if (root != nullptr && pt.bits >= 1 && pt.bits <= 3) {
    pte_t* e = vspace_walk(root, pt.w1, pt.bits - 1u);
    if (e != nullptr && arch::pte_valid(*e) && arch::pte_is_table(*e, pt.bits - 1u) &&
        arch::pte_address(*e) == arch::kvtop(reinterpret_cast<void*>(pt.obj))) {
      arch::pte_store(e, 0);
      arch::tlb_invalidate_asid(pt.aux);
    }
  }
  // Its entries are stale now (seL4 clears the table too): a later map starts empty.
  auto* table = pt.as<pte_t>();
  for (unsigned i = 0; i < 512; ++i) {
    if (table[i] != 0) arch::pte_store(&table[i], 0);
  }
  pt.aux = 0;
  pt.w1 = 0;
  pt.bits = 0;
}

void vspace_finalise(pte_t* root) {
  unsigned asid = vspace_asid(root);
  if (asid != 0 && find_vspace(asid) == root) {
    g_asid_pools[asid >> KEEL_ASID_LOW_BITS]->entries[asid & mask_bits(KEEL_ASID_LOW_BITS)] = nullptr;
    arch::tlb_invalidate_asid(asid);
  }
  root[kAsidEntry] = 0;
  sched_forget_vspace(reinterpret_cast<word_t>(root));
}

void asid_pool_finalise(AsidPool* pool) {
  for (unsigned h = 0; h < (1u << KEEL_ASID_HIGH_BITS); ++h) {
    if (g_asid_pools[h] != pool) continue;
    for (unsigned l = 0; l < (1u << KEEL_ASID_LOW_BITS); ++l) {
      pte_t* root = pool->entries[l];
      if (root == nullptr) continue;
      root[kAsidEntry] = 0;
      arch::tlb_invalidate_asid((h << KEEL_ASID_LOW_BITS) | l);
      pool->entries[l] = nullptr;
    }
    g_asid_pools[h] = nullptr;
  }
}

bool vspace_map_boot(pte_t* root, vaddr_t va, paddr_t pa, unsigned bits, arch::PageAttr attr,
                     void* (*alloc_table)(void* cookie, vaddr_t va, unsigned level), void* cookie) {
  unsigned level = bits == KEEL_LARGE_PAGE_BITS ? 2 : 3;
  pte_t* table = root;
  for (unsigned l = 0; l < level; ++l) {
    pte_t* e = &table[pt_index(va, l)];
    if (!arch::pte_valid(*e)) {
      void* t = alloc_table(cookie, va, l + 1);
      if (t == nullptr) return false;
      arch::pte_store(e, arch::pte_table(arch::kvtop(t)));
    }
    table = static_cast<pte_t*>(arch::ptokv(arch::pte_address(*e)));
  }
  arch::pte_store(&table[pt_index(va, level)], arch::pte_page(pa, level, attr));
  return true;
}

}  // namespace keel::kernel
