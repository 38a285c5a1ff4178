// keel-msg — the message server (component `msg`): channel policy, capability minting, teardown.
//
// It never carries channel traffic: it checks a KEEL_MSG_OPEN request against the boot spec (its
// read-only copy at KEEL_SPEC_VADDR), builds the requester's capability from the objects of the
// two parties (through its copies of every component's CNode at KEEL_SLOT_PRIVILEGED + i and of
// every service endpoint at KEEL_SLOT_MSG_ENDPOINTS + i) and, when the system page says a
// component restarted or stopped, deletes everything it handed out to or for that component.
// Policy and bookkeeping live in channels.cc (host-tested); this file only does the syscalls.
// Reference: docs/os-services.md "Channels (msg)".
#include <stdarg.h>

#include "keel/msg/channels.h"
#include "keel/rt/invocations.h"
#include "keel/rt/printf.h"
#include "keel/rt/syscall.h"
#include "keel/sys/protocol.h"
#include "keel/sys/sessions.hh"
#include "keel/sys/fair_server.hh"
#include "keel/sys/service.h"

namespace {

using keel::bootspec::Spec;
using keel::msg::CapOp;
using keel::msg::Channels;
using keel::msg::ComponentState;

constexpr keel_word_t kDepth = KEEL_COMPONENT_CNODE_DEPTH;

const keel_info_t* g_info = nullptr;
Spec g_spec_value;
const Spec* g_spec = nullptr;
Channels g_channels;
ComponentState g_now[KEEL_MAX_COMPONENTS];
bool g_page_warned = false;
keel::sys::FairServer g_server;


// ---- output ---------------------------------------------------------------------------------
// A line goes to the serial service (printed "[msg] text") when msg may use it and it answers;
// otherwise to the kernel debug console as "msg: text".
void say_raw(const char* text, std::size_t n) {
  char line[256];  // say() lines are shorter
  static_assert(sizeof line <= KEEL_SERIAL_MAX_WRITE);
  if (g_info != nullptr && (g_info->services & KEEL_SERVICE_SERIAL) != 0 && n + 1 <= sizeof line) {
    __builtin_memcpy(line, text, n);
    line[n] = '\n';
    if (keel::rpc::call_granted<keel::rpc::serial::Write>(keel::rpc::serial::Text{line, n + 1}).ok()) return;
  }
  keel_puts("msg: ");
  for (std::size_t i = 0; i < n; ++i) keel_putc(text[i]);
  keel_putc('\n');
}

__attribute__((format(printf, 1, 2))) void say(const char* fmt, ...) {
  char line[200];
  va_list ap;
  va_start(ap, fmt);
  int n = keel_vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  say_raw(line, static_cast<std::size_t>(n) < sizeof line ? static_cast<std::size_t>(n) : sizeof line - 1);
}

// A core service has nothing sensible to do without its configuration: report and stop through
// the root server (which restarts or escalates per the manifest).
[[noreturn]] void fail(const char* what) {
  keel_printf("msg: fatal: %s\n", what);
  keel::rpc::send<keel::rpc::root::Exit>(int64_t{1});
  for (;;) keel_yield();  // not reached: the root server does not answer an exit
}

// ---- the system page ------------------------------------------------------------------------
// Reads every component's generation and state; retries while the root server is writing.
bool read_system_page(ComponentState* out) {
  const auto* p = reinterpret_cast<const volatile keel_system_page_t*>(KEEL_SYSTEM_PAGE_VADDR);
  const std::uint32_t n = g_channels.component_count();
  for (int attempt = 0; attempt < 16; ++attempt) {
    if (p->magic != KEEL_SYSTEM_PAGE_MAGIC || p->component_count != n) break;
    const std::uint64_t before = p->sequence;
    __asm__ volatile("dmb ish" ::: "memory");
    for (std::uint32_t i = 0; i < n; ++i) {
      out[i].generation = p->components[i].generation;
      out[i].state = p->components[i].state;
    }
    __asm__ volatile("dmb ish" ::: "memory");
    if (p->sequence == before) return true;
  }
  if (!g_page_warned) {
    g_page_warned = true;
    say("system page invalid (magic or component count): restarts are not tracked");
  }
  return false;
}

// ---- capability operations -------------------------------------------------------------------
keel_error_t run(const CapOp& op) {
  const keel_cptr_t cnode = KEEL_SLOT_PRIVILEGED + op.cnode;
  switch (op.kind) {
    case CapOp::kDelete: return keel_cnode_delete(cnode, op.slot, kDepth);
    case CapOp::kCancelBadgedSends: return keel_cnode_cancel_badged_sends(cnode, op.slot, kDepth);
    case CapOp::kMint:
      if (op.source == keel::msg::Source::kEndpoint)
        return keel_cnode_mint(cnode, op.slot, kDepth, KEEL_SLOT_CNODE, KEEL_SLOT_MSG_ENDPOINTS + op.source_component,
                               kDepth, op.rights, op.badge);
      return keel_cnode_mint(cnode, op.slot, kDepth, KEEL_SLOT_PRIVILEGED + op.source_component, KEEL_SLOT_NOTIFY,
                             kDepth, op.rights, op.badge);
  }
  return KEEL_INVALID_ARGUMENT;
}

const char* component_name(std::uint32_t c, std::uint32_t* len) {
  const auto s = g_spec->str(g_spec->component(c).name);
  *len = s.len;
  return s.data;
}

// Applies every change of the system page since the last look: teardown of each component whose
// generation or state changed. Runs before every request so that a restarted component's fresh
// capabilities are never deleted by a teardown that was still pending.
void sync() {
  ComponentState now[KEEL_MAX_COMPONENTS];
  if (!read_system_page(now)) return;
  for (std::uint32_t i = 0; i < g_channels.component_count(); ++i) g_now[i] = now[i];
  std::uint64_t mask = g_channels.changed(g_now);
  while (mask != 0) {
    const auto x = static_cast<std::uint32_t>(__builtin_ctzll(mask));
    mask &= mask - 1;
    CapOp ops[keel::msg::kMaxTeardownOps];
    const std::uint32_t n = g_channels.teardown(x, g_now, ops, keel::msg::kMaxTeardownOps);
    // Errors are expected and harmless here: a cancel on a slot the kernel already emptied when
    // the peer's objects were destroyed (IllegalOperation); deleting an empty slot succeeds.
    std::uint32_t failed = 0;
    for (std::uint32_t i = 0; i < n; ++i)
      if (run(ops[i]) != KEEL_OK && ops[i].kind == CapOp::kDelete) ++failed;
    if (n > 0) {
      std::uint32_t len = 0;
      const char* name = component_name(x, &len);
      say("teardown: %.*s (generation %llu, state %u): %u capability operations, %u failed", static_cast<int>(len),
          name, static_cast<unsigned long long>(g_now[x].generation), g_now[x].state, n, failed);
    }
  }
}

void log_denial(std::uint32_t c, const char* name, std::uint32_t len) {
  const keel::msg::DenialLog d = g_channels.note_denial(c);
  if (d == keel::msg::DenialLog::kSilent) return;
  std::uint32_t clen = 0;
  const char* cname = component_name(c, &clen);
  if (d == keel::msg::DenialLog::kLogSuppressed) {
    say("denied: %.*s: further denials suppressed until it restarts", static_cast<int>(clen), cname);
    return;
  }
  // say_raw() adds "msg: " on the debug console; the serial server adds "[msg] ".
  char line[64 + keel::msg::kMaxNameLen + 64];
  const std::size_t n = keel::msg::format_denial(line, sizeof line, g_spec->str(g_spec->component(c).name), name, len,
                                                 false);
  say_raw(line, n);
}

keel_word_t status_reply(keel_error_t s) { return keel_msginfo_new(s, 0, 0, 0); }

// KEEL_MSG_OPEN from component c.
keel::Result<keel::rpc::msg::Open::Value> open(std::uint32_t c, keel::rpc::msg::Name req) {
  if (!keel::msg::valid_name(req.data, req.len)) return keel::Err{KEEL_INVALID_ARGUMENT};
  // The view points into the message registers, which the calls below overwrite.
  char name[keel::msg::kMaxNameLen];
  const auto n = static_cast<std::uint32_t>(req.len);
  __builtin_memcpy(name, req.data, n);

  sync();
  if (g_now[c].state != KEEL_STATE_RUNNING) return keel::Err{KEEL_CHANNEL_DOWN};
  const keel::msg::OpenResult r = g_channels.open(c, name, n, g_now);
  if (r.status == KEEL_DENIED) log_denial(c, name, n);
  if (r.status != KEEL_OK) return keel::Err{r.status};
  bool ok = true;
  for (std::uint32_t i = 0; i < r.op_count && ok; ++i) {
    const keel_error_t e = run(r.ops[i]);
    if (e != KEEL_OK && r.ops[i].kind == CapOp::kMint) {
      // The peer's object is gone (it is restarting): the requester retries later.
      std::uint32_t clen = 0;
      const char* cname = component_name(c, &clen);
      say("open of '%.*s' for %.*s: mint failed (%s)", static_cast<int>(n), name, static_cast<int>(clen), cname,
          keel_error_name(e));
      ok = false;
    }
  }
  g_channels.commit_open(c, r, ok);
  if (!ok) return keel::Err{KEEL_CHANNEL_DOWN};
  keel::rpc::msg::Open::Value v;
  v.get<0>() = r.slot;
  v.get<1>() = r.kind;
  v.get<2>() = r.mr2;
  return v;
}

keel_word_t handle(keel_word_t badge, keel_word_t info) {
  if (badge < 1 || badge > g_channels.component_count()) return status_reply(KEEL_INVALID_ARGUMENT);
  const auto c = static_cast<std::uint32_t>(badge - 1);
  if (keel_msginfo_label(info) != KEEL_MSG_OPEN) return status_reply(KEEL_INVALID_ARGUMENT);
  return keel::rpc::serve<keel::rpc::msg::Open>(info, [&](keel::rpc::msg::Name req) { return open(c, req); });
}

}  // namespace

extern "C" int keel_main(void* start_arg) {
  const keel_info_t* info = keel::sys::adopt_info_page(start_arg);
  if (info == nullptr) fail("no component info page");
  g_info = info;

  // The boot spec copy, validated again (keel/sys/service.h).
  auto spec = keel::sys::read_spec_copy(info, "msg");
  if (!spec.ok()) fail(spec.error());
  g_spec_value = spec.value();
  g_spec = &g_spec_value;
  g_server.init(g_spec_value, info->index);

  // Until the first read of the system page, assume everything runs.
  for (std::uint32_t i = 0; i < KEEL_MAX_COMPONENTS; ++i) g_now[i] = ComponentState{0, KEEL_STATE_RUNNING};
  {
    auto init = g_channels.init(*g_spec, g_now, info->generation > 0);
    if (!init.ok()) fail(keel::msg::build_error_name(init.error().code));
  }
  ComponentState now[KEEL_MAX_COMPONENTS];
  if (read_system_page(now)) {
    for (std::uint32_t i = 0; i < g_channels.component_count(); ++i) g_now[i] = now[i];
    // Record the page as it is now (nothing of ours exists yet to tear down); a restarted msg
    // re-initialises with the real states.
    auto init = g_channels.init(*g_spec, g_now, info->generation > 0);
    if (!init.ok()) fail(keel::msg::build_error_name(init.error().code));
  }
  say("ready: %u components, %u channels%s", g_channels.component_count(),
      g_spec->count(keel::bootspec::Table::kChannels), info->generation > 0 ? " (restarted)" : "");

  keel_word_t badge = 0;
  keel_word_t msg = g_server.next(0, &badge);
  for (;;) {
    keel_word_t reply;
    if (msg == 0) {
      // Here no message is in flight (logging is an IPC that rewrites the message registers).
      g_server.report_held([](std::uint32_t c, std::uint32_t n) {
        std::uint32_t len = 0;
        const char* name = component_name(c, &len);
        say("%.*s: %u answers held (over its share of this service's time)", static_cast<int>(len), name, n);
      });
      // Our bound notification (KEEL_NOTIFY_SYSTEM: the system page changed), or an empty label-0
      // message from a component, which the reply below answers with KEEL_INVALID_ARGUMENT (a reply with
      // no caller waiting goes nowhere).
      sync();
      reply = status_reply(KEEL_INVALID_ARGUMENT);
    } else {
      reply = handle(badge, msg);
    }
    msg = g_server.next(reply, &badge);
  }
}
