// Isolation: a thread cannot touch memory it was not given (the fault arrives at its handler)
// and cannot use a capability it does not hold or lacks the rights for.
#include "../framework/ktest.h"

using namespace ktest;

namespace {

keel_word_t wait_fault(keel_cptr_t ep, keel_cptr_t reply, keel_word_t* badge) {
  return keel_msginfo_label(keel_recv(ep, badge, reply));
}

// Runs in its own address space and CSpace: x0 = what to do.
//   1: read the root task's data (not mapped here)   2: write its own text (mapped read-only)
//   3: Call a cptr that is empty in its CSpace       4: Signal the endpoint it holds (slot 1)
void isolated(keel_word_t what, keel_word_t addr) {
  switch (what) {
    case 1: (void)*reinterpret_cast<volatile keel_word_t*>(addr); break;
    case 2: *reinterpret_cast<volatile keel_word_t*>(addr) = 1; break;
    case 3: keel_call_mrs(addr, 0, nullptr, nullptr, nullptr, nullptr); break;
    case 5: {
      // Invocations on its own CNode (slot 2, radix 6) naming caps it does not hold: slot 40 is
      // empty; slot `addr` holds a cap in the root task's CSpace but nothing here.
      keel_word_t e1 = keel_cnode_copy(2, 10, 6, 2, 40, 6, KEEL_RIGHTS_ALL);
      keel_word_t e2 = keel_cnode_copy(2, 11, 6, addr, 0, 1, KEEL_RIGHTS_ALL);
      keel_word_t e3 = keel_cnode_copy(2, 12, 6, 2, 1, 6, KEEL_RIGHTS_ALL);  // control: it holds slot 1
      for (;;) keel_send_mrs(1, keel_msginfo_new(0x600d, 0, 0, 3), e1, e2, e3, 0);
    }
    default: break;
  }
  for (;;) keel_send_mrs(1, keel_msginfo_new(0x600d, 0, 0, 0), 0, 0, 0, 0);
}

keel_word_t g_secret = 0x5ec2e7;

}  // namespace

KTEST(isolation_memory_not_given_faults) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  ThreadOpts o;
  o.fault_ep = mint(ep, KEEL_RIGHTS_ALL, 0x15);
  keel_cptr_t caps[] = {ep};
  Process p{};
  REQUIRE(spawn_process(&p, isolated, 1, reinterpret_cast<keel_word_t>(&g_secret), caps, 1, o));
  keel_word_t badge = 0;
  CHECK_EQ(wait_fault(ep, reply, &badge), KEEL_FAULT_VM);
  CHECK_EQ(badge, 0x15u);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_ADDR), reinterpret_cast<keel_word_t>(&g_secret));
}

KTEST(isolation_read_only_text_cannot_be_written) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  ThreadOpts o;
  o.fault_ep = ep;
  keel_cptr_t caps[] = {ep};
  Process p{};
  keel_word_t target = reinterpret_cast<keel_word_t>(&isolated);
  REQUIRE(spawn_process(&p, isolated, 2, target, caps, 1, o));
  keel_word_t badge = 0;
  CHECK_EQ(wait_fault(ep, reply, &badge), KEEL_FAULT_VM);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_ADDR), target);
  CHECK_EQ(keel_get_mr(KEEL_VM_FAULT_PREFETCH_FAULT), 0u);
}

KTEST(isolation_cap_not_held_faults) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  ThreadOpts o;
  o.fault_ep = ep;
  keel_cptr_t caps[] = {ep};
  Process p{};
  // Slot 5 of its CSpace is empty; in OUR CSpace slot 5 holds a real cap (ASID control) — the
  // lookup is in the thread's own CSpace, so it must fail.
  REQUIRE(spawn_process(&p, isolated, 3, KEEL_CAP_INIT_ASID_CONTROL, caps, 1, o));
  keel_word_t badge = 0;
  CHECK_EQ(wait_fault(ep, reply, &badge), KEEL_FAULT_CAP);
  CHECK_EQ(keel_get_mr(KEEL_CAP_FAULT_ADDR), KEEL_CAP_INIT_ASID_CONTROL);
  // Beyond its 64-slot CNode: also a cap fault, nothing leaks.
}

KTEST(isolation_cap_held_works) {
  // Control for the tests above: the same program with a cap it holds sends normally.
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t caps[] = {ep};
  ThreadOpts o;
  Process p{};
  REQUIRE(spawn_process(&p, isolated, 4, 0, caps, 1, o));
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(ep, &badge, 0);
  CHECK_EQ(keel_msginfo_label(info), 0x600du);
}

KTEST(isolation_rights_enforced_on_ipc) {
  // A thread holding only a Read right cannot send; one holding only Write cannot receive.
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t fault_ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  keel_cptr_t read_only = copy(ep, KEEL_RIGHT_READ);
  keel_cptr_t write_only = copy(ep, KEEL_RIGHT_WRITE);
  ThreadOpts o;
  o.fault_ep = fault_ep;
  Thread* s = spawn([](Thread* self) { keel_send_mrs(self->arg[0], 0, 0, 0, 0, 0); }, read_only, o);
  REQUIRE(s != nullptr);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(fault_ep, &badge, reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_CAP);
  CHECK_EQ(keel_get_mr(KEEL_CAP_FAULT_ADDR), read_only);
  Thread* r = spawn(
      [](Thread* self) {
        keel_word_t b = 0;
        keel_recv(self->arg[0], &b, 0);
      },
      write_only, o);
  REQUIRE(r != nullptr);
  info = keel_recv(fault_ep, &badge, reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_CAP);
  CHECK_EQ(keel_get_mr(KEEL_CAP_FAULT_IN_RECV_PHASE), 1u);
  // Notification without Write: Signal is a cap fault too.
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  Thread* sig = spawn([](Thread* self) { keel_signal(self->arg[0]); }, copy(n, KEEL_RIGHT_READ), o);
  REQUIRE(sig != nullptr);
  info = keel_recv(fault_ep, &badge, reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_CAP);
  keel_word_t w = 0;
  keel_poll(n, &w);
  CHECK_EQ(w, 0u);
}

KTEST(isolation_invocation_with_caps_not_held_fails) {
  // Using capabilities it does not hold as invocation arguments gives an error reply (and
  // changes nothing); the same invocation with a cap it holds works.
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t caps[] = {ep};
  ThreadOpts o;
  o.start = false;
  Process p{};
  REQUIRE(spawn_process(&p, isolated, 5, KEEL_CAP_INIT_ASID_CONTROL, caps, 1, o));
  REQUIRE_OK(keel_cnode_copy(p.cnode, 2, 6, kRoot, p.cnode, kDepth, KEEL_RIGHTS_ALL));
  REQUIRE_OK(keel_tcb_resume(p.tcb));
  keel_word_t badge = 0, e1 = 0, e2 = 0, e3 = 0;
  keel_word_t info = keel_recv_mrs(ep, &badge, 0, &e1, &e2, &e3, nullptr);
  CHECK_EQ(keel_msginfo_label(info), 0x600du);
  CHECK_ERR(e1, KEEL_FAILED_LOOKUP);
  CHECK_ERR(e2, KEEL_FAILED_LOOKUP);  // the source root (an extra cap) is an empty slot here
  CHECK_ERR(e3, KEEL_NO_ERROR);
}
