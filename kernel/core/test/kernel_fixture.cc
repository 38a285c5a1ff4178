#include "kernel_fixture.h"

#include <cstring>

namespace keel::kernel {
extern ErrorDetail g_error;
}

namespace keel::kernel::test {

namespace {

// A minimal aarch64 ELF: one RX page at kImageBase, one RW page after it.
std::vector<std::uint8_t> tiny_elf() {
  std::vector<std::uint8_t> f(0x3000, 0);
  auto put16 = [&](std::size_t o, std::uint16_t v) { std::memcpy(&f[o], &v, 2); };
  auto put32 = [&](std::size_t o, std::uint32_t v) { std::memcpy(&f[o], &v, 4); };
  auto put64 = [&](std::size_t o, std::uint64_t v) { std::memcpy(&f[o], &v, 8); };
  f[0] = 0x7f; f[1] = 'E'; f[2] = 'L'; f[3] = 'F'; f[4] = 2; f[5] = 1; f[6] = 1;
  put16(16, 2);        // ET_EXEC
  put16(18, 183);      // EM_AARCH64
  put32(20, 1);
  put64(24, kImageBase + 0x10);  // entry
  put64(32, 64);       // phoff
  put16(52, 64);
  put16(54, 56);       // phentsize
  put16(56, 2);        // phnum
  auto ph = [&](std::size_t o, std::uint32_t flags, std::uint64_t off, std::uint64_t va, std::uint64_t filesz,
                std::uint64_t memsz) {
    put32(o, 1);
    put32(o + 4, flags);
    put64(o + 8, off);
    put64(o + 16, va);
    put64(o + 24, va);
    put64(o + 32, filesz);
    put64(o + 40, memsz);
    put64(o + 48, 0x1000);
  };
  ph(64, 5, 0x1000, kImageBase, 0x100, 0x100);            // text R+X
  ph(64 + 56, 6, 0x2000, kImageBase + 0x1000, 8, 0x2000);  // data R+W, with bss
  f[0x1000] = 0xd4;  // recognisable text byte
  put64(0x2000, 0x1122334455667788ull);
  return f;
}

}  // namespace

void KernelTest::SetUp() {
  fake::reset();
  g_cdt_root = Slot{};
  for (auto& p : g_asid_pools) p = nullptr;
  for (auto& s : g_irqs) s = IrqState{};
  g_fpu_owner = nullptr;
  static std::vector<std::uint8_t> elf = tiny_elf();
  BootParams p{};
  p.ram[0] = MemoryRegion{fake::kPhysBase, fake::kPhysSize};
  p.ram_count = 1;
  p.device[0] = MemoryRegion{0x0900'0000, 0x1000};
  p.device_count = 1;
  p.root_elf = elf.data();
  p.root_elf_size = elf.size();
  p.timer_frequency = 1'000'000;
  arch::UserContext* ctx = kernel_boot(p);
  ASSERT_NE(ctx, nullptr);
  root_ = tcb_of(ctx);
  root_cnode_ = root_->slots[kTcbCSpace].cap.as<Slot>();
  bi_ = reinterpret_cast<keel_boot_info_t*>(
      arch::ptokv(arch::pte_address(*vspace_walk(root_->slots[kTcbVSpace].cap.as<pte_t>(), ctx->x[0], 3))));
  word_t best = 0;
  for (word_t i = 0; i < bi_->untyped.end - bi_->untyped.start; ++i) {
    if (!bi_->untyped_list[i].is_device && bi_->untyped_list[i].size_bits > best) {
      best = bi_->untyped_list[i].size_bits;
      ut_ = bi_->untyped.start + i;
    }
  }
  next_free_ = bi_->empty.start;
}

void KernelTest::TearDown() { expect_invariants(); }

void KernelTest::expect_invariants() {
  EXPECT_EQ(invariants_check(), 0u) << (g_invariant_first_violation ? g_invariant_first_violation : "");
}

void KernelTest::sys(word_t sysno, word_t x0, word_t info, std::initializer_list<word_t> mrs, word_t x6, word_t x8) {
  Tcb* t = g_current;
  ASSERT_NE(t, nullptr) << "no current thread";
  t->ctx.x[7] = sysno;
  t->ctx.x[0] = x0;
  t->ctx.x[1] = info;
  unsigned i = 0;
  for (word_t v : mrs) t->ctx.x[2 + i++] = v;
  t->ctx.x[6] = x6;
  t->ctx.x[8] = x8;
  on_syscall(&t->ctx);
}

word_t KernelTest::invoke(word_t cptr, word_t label, std::vector<word_t> mrs, std::vector<word_t> caps) {
  Tcb* t = g_current;
  keel_ipc_buffer_t* b = tcb_ipc_buffer(t);
  for (std::size_t i = 0; i < mrs.size(); ++i) tcb_set_mr(t, b, static_cast<unsigned>(i), mrs[i]);
  for (std::size_t i = 0; i < caps.size(); ++i) b->caps_or_badges[i] = caps[i];
  t->ctx.x[7] = KEEL_SYS_CALL;
  t->ctx.x[0] = cptr;
  t->ctx.x[1] = keel_msginfo_new(label, 0, caps.size(), mrs.size());
  on_syscall(&t->ctx);
  EXPECT_EQ(g_current, t) << "the invoking thread should still run";
  return keel_msginfo_label(t->ctx.x[1]);
}

word_t KernelTest::mr(unsigned i) const { return tcb_get_mr(g_current, tcb_ipc_buffer(g_current), i); }

word_t KernelTest::retype(word_t type, word_t bits, word_t dest, word_t n) {
  return invoke(ut_, KEEL_UNTYPED_RETYPE, {type, bits, 0, 0, dest, n}, {KEEL_CAP_INIT_CNODE});
}

word_t KernelTest::make_thread(unsigned prio, word_t budget_us, word_t period_us, Tcb** out) {
  word_t tcb = free_slot();
  EXPECT_EQ(retype(KEEL_OBJ_TCB, 0, tcb), 0u);
  word_t frame = free_slot();
  EXPECT_EQ(retype(KEEL_OBJ_SMALL_PAGE, 0, frame), 0u);
  vaddr_t va = next_va_;
  next_va_ += 0x1000;
  EXPECT_EQ(invoke(frame, KEEL_PAGE_MAP, {va, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE, KEEL_VM_DEFAULT}, {KEEL_CAP_INIT_VSPACE}), 0u);
  EXPECT_EQ(invoke(tcb, KEEL_TCB_CONFIGURE, {0, 0, va}, {KEEL_CAP_INIT_CNODE, KEEL_CAP_INIT_VSPACE, frame}), 0u);
  word_t sc = 0;
  if (budget_us != 0) {
    sc = free_slot();
    EXPECT_EQ(retype(KEEL_OBJ_SCHED_CONTEXT, KEEL_MIN_SCHED_CONTEXT_BITS, sc), 0u);
    EXPECT_EQ(invoke(KEEL_CAP_INIT_SCHED_CONTROL, KEEL_SCHED_CONTROL_CONFIGURE_FLAGS, {budget_us, period_us, 0, sc, 0}, {sc}), 0u);
  }
  EXPECT_EQ(invoke(tcb, KEEL_TCB_SET_SCHED_PARAMS, {prio, prio}, {KEEL_CAP_INIT_TCB, sc, 0}), 0u);
  EXPECT_EQ(invoke(tcb, KEEL_TCB_RESUME, {}), 0u);
  if (out != nullptr) *out = slot(tcb)->cap.as<Tcb>();
  return tcb;
}

void KernelTest::make_current(Tcb* t) {
  Tcb* old = g_current;
  if (old == t) return;
  ready_dequeue(t);
  if (old != nullptr && tcb_runnable(old)) ready_enqueue(old, QueueEnd::kFront);
  g_current = t;
  g_current_sc = t->sc;
}

}  // namespace keel::kernel::test
