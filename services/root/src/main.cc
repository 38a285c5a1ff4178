// keel-root: the root server, Keel OS's first user thread (docs/os-services.md).
// Boot: validate the boot archive and spec, build every component from its own untyped memory,
// wire the services, start them in dependency order. Then serve: every fault and every service
// request arrives on one endpoint (faults carry kFaultBadge | index); what supervision and the
// fairness rule do with them is supervision.cc.
#include <cstdint>

#include "keel/rt/printf.h"
#include "keel/rt/rt.hh"
#include "keel/rt/syscall.h"
#include "keel/sys/service.h"
#include "keel/sys/sessions.hh"
#include "root.h"

namespace keel::root {

Root g;

static_assert(bootspec::kImageWindowLo == KEEL_IMAGE_BASE && bootspec::kImageWindowHi == KEEL_HEAP_BASE,
              "the image builder and the root server must agree on the component image window");

namespace {

using bootspec::Table;

constexpr keel_word_t kDepth = 64;

const char* fault_name(keel_word_t label) {
  switch (label) {
    case KEEL_FAULT_CAP: return "capability fault";
    case KEEL_FAULT_UNKNOWN_SYSCALL: return "unknown syscall";
    case KEEL_FAULT_USER_EXCEPTION: return "user exception";
    case KEEL_FAULT_TIMEOUT: return "budget timeout";
    case KEEL_FAULT_VM: return "VM fault";
  }
  return "unknown fault";
}

[[noreturn]] void boot_fail(const char* stage, const char* what, int code) {
  keel_printf("root: BOOT ERROR: %s: %s\n", stage, what);
  keel_printf("root: the system cannot start; halting\n");
  halt(code);
}

// Makes the thread of component c return from the syscall that took a capability fault on a
// channel or service slot, with label KEEL_CHANNEL_DOWN (the peer is gone). The fault has
// already been answered with a non-zero label, so the thread is suspended.
// `resume` false: the thread stays suspended until the next fairness window (held).
void channel_down(std::uint32_t c, keel_word_t ip, keel_error_t label, bool resume) {
  keel_word_t regs[5] = {};
  const keel_cptr_t tcb = comp_slot(c, kSlotTcb);
  if (keel_tcb_read_registers(tcb, false, 5, regs) != KEEL_OK) return;
  regs[KEEL_REG_PC] = ip;  // the fault's IP is already past the svc (ELR of an SVC; the kernel
                          // re-executes a syscall without moving pc)
  regs[KEEL_REG_X0] = 0;
  regs[KEEL_REG_X0 + 1] = keel_msginfo_new(label, 0, 0, 0);
  (void)keel_tcb_write_registers(tcb, resume, 5, regs);
}

// Whether the manifest gives component c the service slot `cptr` (every other slot: true). An
// ungranted one was never filled: a call on it is denied, not a channel gone down.
bool slot_granted(std::uint32_t c, keel_word_t cptr) {
  const Comp& k = g.comp[c];
  switch (cptr) {
    case KEEL_SLOT_MSG_EP: return k.uses_msg || (k.services & KEEL_SERVICE_MSG) != 0;
    case KEEL_SLOT_SERIAL_EP: return (k.services & KEEL_SERVICE_SERIAL) != 0;
    case KEEL_SLOT_CLOCK_EP: return (k.services & KEEL_SERVICE_CLOCK) != 0;
    case KEEL_SLOT_SCHED_EP: return (k.services & KEEL_SERVICE_SCHED) != 0;
    default: return true;
  }
}

bool channel_slot(keel_word_t cptr) {
  return (cptr >= KEEL_SLOT_ROOT_EP && cptr <= KEEL_SLOT_SCHED_EP) ||
         (cptr >= KEEL_SLOT_CHANNEL_BASE && cptr < KEEL_SLOT_PRIVILEGED);
}


void boot(const keel_boot_info_t* bi) {
  g.bi = bi;
  log_init(bi);
  debug_drop_own(bi);
  g.freq = bi->timer_frequency ? bi->timer_frequency : 1;
  const auto* hdr = reinterpret_cast<const bootspec::ArchiveHeader*>(bootspec::kArchiveVaddr);
  const std::uint64_t total = hdr->total_size;
  if (bi->image_end <= bootspec::kArchiveVaddr || total > bi->image_end - bootspec::kArchiveVaddr)
    boot_fail("boot archive", "missing or larger than its segment (was the root server packed by keel image?)", 2);
  auto arc = bootspec::Archive::parse(hdr, total);
  char what[96];
  if (!arc.ok()) {
    keel_snprintf(what, sizeof what, "%s at byte %u", bootspec::archive_error_name(arc.error().code),
                  arc.error().offset);
    boot_fail("boot archive", what, 3);
  }
  g.archive = arc.value();
  const auto sb = g.archive.boot_spec();
  auto spec = bootspec::Spec::parse(sb.data, sb.size);
  if (!spec.ok()) {
    keel_snprintf(what, sizeof what, "%s at byte %u", bootspec::error_name(spec.error().code), spec.error().offset);
    boot_fail("boot spec", what, 4);
  }
  g.spec = spec.value();
  g.count = g.spec.count(Table::kComponents);
  if (g.count > KEEL_MAX_COMPONENTS) boot_fail("boot spec", "more than 64 components", 5);
  if (g.spec.count(Table::kGroups) > kMaxGroups) boot_fail("boot spec", "more than 64 groups", 5);
  if (!debug_grants_ok()) boot_fail("boot spec", "debug syscall grants on a release kernel", 5);
  const auto sn = g.spec.str(g.spec.system().name);
  keel_printf("root: system '%.*s': %u components, %u channels, %u groups\n", static_cast<int>(sn.len), sn.data,
              g.count, g.spec.count(Table::kChannels), g.spec.count(Table::kGroups));

  // Supervision tree.
  static GroupDef groups[kMaxGroups];
  static ComponentDef comps[KEEL_MAX_COMPONENTS];
  for (std::uint32_t i = 0; i < g.spec.count(Table::kGroups); ++i) {
    const auto& gr = g.spec.group(i);
    groups[i] = GroupDef{gr.parent == bootspec::kNone ? kNoGroup : gr.parent, static_cast<Strategy>(gr.strategy),
                         gr.intensity, std::uint64_t{gr.period_s} * g.freq};
  }
  for (std::uint32_t c = 0; c < g.count; ++c) {
    const auto& rec = g.spec.component(c);
    comps[c].group = rec.group;
    comps[c].restart = static_cast<RestartType>(rec.restart);
    for (std::uint32_t d = rec.deps.first; d < rec.deps.first + rec.deps.count; ++d)
      comps[c].depends_on |= bit(g.spec.dep(d).depends_on);
  }
  if (!g.sup.init(groups, g.spec.count(Table::kGroups), comps, g.count))
    boot_fail("boot spec", "inconsistent supervisor tree", 6);

  // Images and layouts.
  static_assert(sizeof sys::kCoreServices / sizeof sys::kCoreServices[0] == static_cast<int>(Provider::kCount));
  for (int p = 0; p < static_cast<int>(Provider::kCount); ++p)
    g.providers[p] = g.spec.find_component(sys::kCoreServices[p]);
  init_fairness();  // after the Supervisor and the providers (core services are not held)
  for (std::uint32_t c = 0; c < g.count; ++c) {
    const auto& rec = g.spec.component(c);
    const auto img = g.spec.str(rec.image);
    const auto elf = g.archive.find_elf(img.data, img.len);
    Comp& k = g.comp[c];
    if (elf.data == nullptr) {
      keel_printf("root: BOOT ERROR: ");
      print_name(c);
      keel_printf(": image '%.*s' is not in the boot archive\n", static_cast<int>(img.len), img.data);
      boot_fail("components", "missing image", 7);
    }
    auto parsed = bootspec::parse_elf(elf.data, elf.size, KEEL_IMAGE_BASE, KEEL_HEAP_BASE);
    if (!parsed.ok()) {
      keel_printf("root: BOOT ERROR: ");
      print_name(c);
      keel_printf(": image '%.*s': %s\n", static_cast<int>(img.len), img.data, bootspec::elf_error_name(parsed.error()));
      boot_fail("components", "bad image", 7);
    }
    k.img = parsed.value();
    if (auto l = compute_layout(g.spec, c, k.img, k.layout); !l.ok()) {
      keel_printf("root: BOOT ERROR: ");
      print_name(c);
      keel_printf(": %s\n", layout_error_name(l.error()));
      boot_fail("components", "does not fit", 7);
    }
    k.services = service_bits(g.spec, c);
    k.uses_msg = k.layout.end_count != 0;
  }
  if (auto r = global_setup(bi); !r.ok()) boot_fail("memory", g.failed_step, 8);
  if (auto r = start_fairness(); !r.ok()) boot_fail("memory", g.failed_step, 8);
  for (std::uint32_t c = 0; c < g.count; ++c) {
    if (auto r = prepare(c); !r.ok()) {
      report(c, r.error());
      boot_fail("components", "cannot allocate", 9);
    }
    if (auto r = build(c); !r.ok()) {
      report(c, r.error());
      boot_fail("components", "cannot build", 9);
    }
    g.comp[c].valid = true;
  }
  for (std::uint32_t c = 0; c < g.count; ++c)
    if (auto r = wire(c); !r.ok()) {
      report(c, r.error());
      boot_fail("components", "cannot connect services", 10);
    }
  std::uint64_t total_bytes = 0;
  for (std::uint32_t c = 0; c < g.count; ++c) {
    const Comp& k = g.comp[c];
    const auto& rec = g.spec.component(c);
    keel_printf("root: [%u] ", c);
    print_name(c);
    keel_printf(": priority %u, budget %u/%u us, memory %lu bytes (objects+frames %lu, image %lu, shared %lu)\n",
                rec.priority, rec.budget_us, rec.period_us, static_cast<unsigned long>(comp_memory(c)),
                static_cast<unsigned long>(k.object_bytes), static_cast<unsigned long>(k.image_bytes),
                static_cast<unsigned long>(k.ring_bytes));
    total_bytes += comp_memory(c);
  }
  keel_printf("root: %lu bytes for %u components; starting\n", static_cast<unsigned long>(total_bytes), g.count);
  for (std::uint32_t c = 0; c < g.count; ++c) {
    g.comp[c].state = KEEL_STATE_RUNNING;
    publish(c);
  }
  for (std::uint32_t c = 0; c < g.count; ++c)
    if (auto r = start(c); !r.ok()) report(c, r.error());
  g.sup.started(g.sup.all(), now());
  // The generic timer starts at 0 at reset; under QEMU -icount shift=0 one tick is 10^9/freq
  // instructions (bench/os reads this line).
  const std::uint64_t t = now();
  keel_printf("root: all %u components started %lu us after reset (%lu timer ticks at %lu Hz)\n", g.count,
              static_cast<unsigned long>(t * 1000000 / g.freq), static_cast<unsigned long>(t),
              static_cast<unsigned long>(g.freq));
}

// One request from component c (badge c + 1). Returns the reply's message info, or 0 for no reply.
keel_word_t request(std::uint32_t c, keel_word_t info) {
  const keel_word_t op = keel_msginfo_label(info);
  auto status = [](keel_word_t s) { return keel_msginfo_new(s, 0, 0, 0); };
  switch (op) {
    case KEEL_ROOT_EXIT: {
      // rpc::root::Exit, a Send: honoured even without its word (then status 0).
      const keel_word_t code = keel_msginfo_length(info) >= 1 ? keel_get_mr(0) : 0;
      if (say(c)) keel_printf(" exited with status %ld\n", static_cast<long>(code));
      g.comp[c].last_fault = 0;
      handle_event(c, code == 0 ? Event::kNormalExit : Event::kAbnormalExit);
      return keel_msginfo_new(1, 0, 0, 0);  // the caller is gone or suspended: nothing is delivered
    }
    case KEEL_ROOT_STATUS: {
      if (!(g.comp[c].services & KEEL_SERVICE_STATUS)) {
        if (say(c, "denied: ")) keel_printf(" asked for status without the 'status' service\n");
        return status(KEEL_DENIED);
      }
      return rpc::serve<rpc::root::Status>(info, [&](std::uint32_t i) -> keel::Result<rpc::root::Status::Value> {
        if (i >= g.count) return keel::Err{KEEL_NOT_FOUND};
        const Comp& k = g.comp[i];
        const auto name = g.spec.str(g.spec.component(i).name);
        rpc::root::Status::Value v;
        v.get<0>() = k.state;
        v.get<1>() = k.restarts;
        v.get<2>() = comp_memory(i);
        v.get<3>() = k.generation;
        v.get<4>() = k.last_fault;
        v.get<5>() = {name.data, name.len};
        return v;
      });
    }
    case KEEL_ROOT_DEVICE:
      // Devices are mapped at build time; this answers where, or refuses (and logs) a device the
      // manifest did not give to the caller.
      return rpc::serve<rpc::root::Device>(info, [&](rpc::root::Name req) -> keel::Result<rpc::root::Device::Value> {
        char name[rpc::root::Name::kMax + 1] = {};
        __builtin_memcpy(name, req.data, req.len);
        const auto& rec = g.spec.component(c);
        for (std::uint32_t d = rec.devices.first; d < rec.devices.first + rec.devices.count; ++d) {
          const auto& dv = g.spec.device(d);
          if (g.spec.str(dv.name) == name) {
            rpc::root::Device::Value v;
            v.get<0>() = dv.vaddr + (dv.paddr & 4095);
            v.get<1>() = dv.size;
            return v;
          }
        }
        if (say(c, "denied: ")) keel_printf(" asked for device '%s', which its manifest does not give it\n", name);
        return keel::Err{KEEL_DENIED};
      });
    case KEEL_ROOT_PASSIVE: {
      // Sent with NBSendRecv there is no caller, and a reply goes nowhere; a component that
      // wrongly used Call gets the refusal.
      if (!(g.spec.component(c).flags & bootspec::kComponentPassive)) {
        if (say(c, "denied: ")) keel_printf(" asked to become passive, which its manifest does not say\n");
        return status(KEEL_DENIED);
      }
      // Only while its thread is blocked in the receive half of the request: its saved x0/x1 are
      // still the request's. If the receive ended at once (a pending notification), leave it
      // active; it asks again.
      keel_word_t regs[5] = {};
      if (keel_tcb_read_registers(comp_slot(c, kSlotTcb), false, 5, regs) != KEEL_OK) return 0;
      if (regs[KEEL_REG_X0] != KEEL_SLOT_ROOT_EP || regs[KEEL_REG_X0 + 1] != info) return 0;
      if (auto r = make_passive(c); !r.ok()) report(c, r.error());
      return 0;
    }
    case KEEL_ROOT_RESTART: {
      // Only a `control = true` component (the device agent). The caller is answered first, then
      // the restart is carried out: a caller that is part of it got its KEEL_OK before it is
      // destroyed (and the root server, at the highest priority, destroys it before it runs).
      const bool control = (g.spec.component(c).flags & bootspec::kComponentControl) != 0;
      std::uint32_t target = Supervisor::kSystem;
      const keel_word_t r = rpc::serve<rpc::root::Restart>(info, [&](std::uint64_t which) -> keel::Result<void> {
        if (which != KEEL_ROOT_RESTART_SYSTEM && which >= g.count) {
          if (!control) {
            if (say(c, "denied: ")) keel_printf(" asked to restart component %lu (no control grant)\n",
                                                static_cast<unsigned long>(which));
            return keel::Err{KEEL_DENIED};
          }
          return keel::Err{KEEL_INVALID_ARGUMENT};
        }
        if (which != KEEL_ROOT_RESTART_SYSTEM) target = static_cast<std::uint32_t>(which);
        if (!control) {
          if (say(c, "denied: ")) {
            keel_printf(" asked to restart ");
            if (target == Supervisor::kSystem) keel_printf("the system");
            else print_name(target);
            keel_printf(" (no control grant)\n");
          }
          return keel::Err{KEEL_DENIED};
        }
        if (g.safe_state) return keel::Err{KEEL_ILLEGAL_OPERATION};
        return keel::Ok{};
      });
      if (keel_msginfo_label(r) != KEEL_OK) return r;  // serve() refused a malformed request: label set
      reply_via(g.reply, r);
      restart_on_request(c, target);
      return 0;
    }
    case KEEL_ROOT_TICK: {
      if (!is_provider(c)) {
        if (say(c, "denied: ")) keel_printf(" asked for a fairness tick (core services only)\n");
        return status(KEEL_DENIED);
      }
      return rpc::serve<rpc::root::Tick>(info, [&]() -> keel::Result<std::uint64_t> {
        g.tick_wanted |= bit(c);
        want_tick();
        return g.shares.window();
      });
    }
    case KEEL_ROOT_SET_BUDGET: {
      if (c != provider(Provider::kSched)) {
        if (say(c, "denied: ")) keel_printf(" tried to set a budget (only the scheduler server may)\n");
        return status(KEEL_DENIED);
      }
      // Reply<uint32_t>: never the all-zero message info, which serve() takes as "answer nobody"
      // (a bare KEEL_OK would leave the scheduler server blocked).
      return rpc::serve<rpc::root::SetBudget>(info, [&](std::uint32_t t, std::uint32_t b,
                                                        std::uint32_t p) -> keel::Result<std::uint32_t> {
        if (t >= g.count) return keel::Err{KEEL_NOT_FOUND};
        const auto& rec = g.spec.component(t);
        if (b < 10 || b > rec.budget_us || p != rec.period_us) return keel::Err{KEEL_RANGE_ERROR};
        if (!g.comp[t].valid || g.comp[t].state != KEEL_STATE_RUNNING) return keel::Err{KEEL_CHANNEL_DOWN};
        if (auto r = set_budget(t, b, p); !r.ok()) {
          report(t, r.error());
          return keel::Err{r.error()};
        }
        return b;
      });
    }
  }
  return status(KEEL_INVALID_ARGUMENT);
}

keel_word_t fault(std::uint32_t c, keel_word_t info) {
  const keel_word_t type = keel_msginfo_label(info);
  const keel_word_t mr0 = keel_get_mr(0), mr1 = keel_get_mr(1);
  // A core service may find a privileged slot (KEEL_SLOT_PRIVILEGED..255) emptied under it by a
  // restart between its check of the system page and its use: the same "peer gone" answer.
  const bool privileged = is_provider(c) && mr1 >= KEEL_SLOT_PRIVILEGED && mr1 < (1u << KEEL_COMPONENT_CNODE_BITS);
  if (type == KEEL_FAULT_CAP && (channel_slot(mr1) || privileged) && g.comp[c].state == KEEL_STATE_RUNNING) {
    // A channel or service capability vanished under it (its peer restarted): not a failure. A
    // service slot the manifest does not grant was never there: KEEL_DENIED. Over its share of
    // the root's time, the component returns from the call at the next window.
    const bool denied = !slot_granted(c, mr1);
    if (denied && say(c, "denied: ")) keel_printf(" called a service its manifest does not grant (slot %lu)\n",
                                                   static_cast<unsigned long>(mr1));
    reply_via(g.reply, keel_msginfo_new(1, 0, 0, 0));
    const bool hold = g.shares.over(c);
    channel_down(c, mr0, denied ? KEEL_DENIED : KEEL_CHANNEL_DOWN, !hold);
    if (hold) {
      g.held_resume |= bit(c);
      note_held(c);
      want_tick();
    }
    return 0;
  }
  Comp& k = g.comp[c];
  k.last_fault = type;
  keel_word_t addr = 0;
  switch (type) {
    case KEEL_FAULT_VM: addr = mr1; break;
    case KEEL_FAULT_CAP: addr = mr1; break;
    case KEEL_FAULT_USER_EXCEPTION: addr = mr0; break;
    case KEEL_FAULT_UNKNOWN_SYSCALL: addr = keel_get_mr(KEEL_UNKNOWN_SYSCALL_FAULT_IP); break;
    default: addr = mr0; break;
  }
  k.last_fault_addr = addr;
  const keel_word_t pc = type == KEEL_FAULT_UNKNOWN_SYSCALL ? keel_get_mr(KEEL_UNKNOWN_SYSCALL_FAULT_IP) : mr0;
  if (say(c))
    keel_printf(" fault: %s at 0x%lx (pc 0x%lx)\n", fault_name(type), static_cast<unsigned long>(addr),
                static_cast<unsigned long>(pc));
  // Release the faulting thread from the root's reply object before it is destroyed.
  reply_via(g.reply, keel_msginfo_new(1, 0, 0, 0));
  handle_event(c, Event::kFault);
  return 0;
}

// Every fault and request is charged to its component (the root's time for it); a reply to a
// component over its share waits in a spare reply object for the next window.
[[noreturn]] void serve() {
  keel_word_t reply = 0;
  for (;;) {
    keel_word_t badge = 0;
    const keel_word_t info = reply != 0 ? keel_reply_recv(g.ep, reply, &badge, g.reply) : keel_recv(g.ep, &badge, g.reply);
    reply = 0;
    const std::uint64_t t0 = now();
    if (info == 0 && badge == kTickBadge) {  // the ticker (the bound notification)
      on_tick(t0);
      continue;
    }
    std::uint32_t c;
    if (badge & kFaultBadge) {
      c = static_cast<std::uint32_t>(badge & ~kFaultBadge);
      if (c >= g.count) continue;
      reply = fault(c, info);
    } else {
      if (badge == 0 || badge > g.count) continue;  // not a badge the root server handed out
      c = static_cast<std::uint32_t>(badge - 1);
      reply = request(c, info);
    }
    reply = charge(c, t0, reply);
  }
}

}  // namespace
}  // namespace keel::root

extern "C" int keel_main(void* start_arg) {
  keel::root::boot(static_cast<const keel_boot_info_t*>(start_arg));
  keel::root::serve();
}
