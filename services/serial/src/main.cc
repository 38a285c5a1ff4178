// keel-serial — the serial server (component `serial`): the PL011 `uart0` driven at user level.
//
// Output: every component's KEEL_SERIAL_WRITE bytes are line-buffered per component and printed
// as "[name] text" (lines.cc: one line leaves as one piece, so components never interleave inside
// a line). TX polls the FIFO-full flag: lines are at most ~160 bytes, QEMU's PL011 never fills its
// FIFO, and on hardware the wait per line (~14 ms at 115200 baud) is bounded by serial's MCS
// budget, so a TX-interrupt state machine would buy little for its complexity.
// Input: the RX interrupt (IRQ `uart0`, notification bit 16 + its IRQ index) drains the RX FIFO
// into a ring and signals the manifest's console_input component (KEEL_NOTIFY_CONSOLE through
// KEEL_SLOT_PRIVILEGED + its index), which reads with KEEL_SERIAL_READ; anyone else asking to read
// is denied. Component names come from the boot spec copy at KEEL_SPEC_VADDR.
// Mirror and trace (mirror.cc): every console line also goes into the console mirror, read by the
// manifest's console_mirror component (KEEL_SERIAL_MIRROR_READ; KEEL_NOTIFY_MIRROR through
// KEEL_SLOT_SERIAL_MIRROR when a line arrives after it read everything); KEEL_SERIAL_TRACE events
// of any component are stamped (generic timer, caller's index) into the trace ring while the
// mirror component has tracing on. Everything per request is O(1) or one reply's worth of bytes.
// Reference: docs/os-services.md "Serial (serial)".
#include <stdarg.h>

#include "keel/bootspec/reader.h"
#include "keel/rt/invocations.h"
#include "keel/rt/printf.h"
#include "keel/rt/syscall.h"
#include "keel/serial/lines.h"
#include "keel/serial/mirror.h"
#include "keel/sys/protocol.h"
#include "keel/sys/fair_server.hh"
#include "keel/sys/service.h"
#include "keel/sys/sessions.hh"

namespace {

using keel::bootspec::Spec;

// PL011 registers (ARM DDI 0183) and bits.
constexpr std::uint32_t kDR = 0x00, kFR = 0x18, kLCRH = 0x2c, kCR = 0x30, kIMSC = 0x38, kICR = 0x44;
constexpr std::uint32_t kFrRxfe = 1u << 4, kFrTxff = 1u << 5;
constexpr std::uint32_t kLcrhFen = 1u << 4;
constexpr std::uint32_t kCrEnable = (1u << 0) | (1u << 8) | (1u << 9);  // UARTEN, TXE, RXE
constexpr std::uint32_t kIntRx = 1u << 4, kIntRt = 1u << 6;
constexpr std::uint32_t kIntErrors = (1u << 7) | (1u << 8) | (1u << 9) | (1u << 10);  // FE PE BE OE
constexpr std::uint32_t kDrErrors = 0xf00u;
constexpr std::uint32_t kNone = 0xffffffffu;
constexpr std::uint32_t kReadDenialLogLimit = 4;
constexpr std::uint32_t kMirrorDenialLogLimit = 4;  // per component, for MIRROR_READ / TRACE_SET / TRACE_READ

const keel_info_t* g_info = nullptr;
Spec g_spec;
keel::serial::Lines g_lines;
keel::serial::InputRing g_input;
std::uintptr_t g_uart = 0;
std::uint32_t g_components = 0;
std::uint32_t g_self = 0;
std::uint32_t g_console = kNone;
keel_cptr_t g_irq_slot = 0;
std::uint64_t g_irq_bit = 0;
std::uint64_t g_rx_errors = 0;
std::uint32_t g_read_denials[KEEL_MAX_COMPONENTS];
keel::sys::FairServer g_server;
std::uint64_t g_log_read = 0;  // bytes of the root server's log ring printed (or lost)
keel::serial::Mirror g_mirror;
keel::serial::TraceRing g_trace;
std::uint32_t g_mirror_comp = kNone;   // the console_mirror component
std::uint64_t g_mirror_gen = 0;        // its generation when last seen (a restart re-arms the signal)
std::uint32_t g_mirror_denials[KEEL_MAX_COMPONENTS];
std::uint64_t g_timer_freq = 1;

std::uint32_t reg_read(std::uint32_t off) { return *reinterpret_cast<volatile std::uint32_t*>(g_uart + off); }
void reg_write(std::uint32_t off, std::uint32_t v) { *reinterpret_cast<volatile std::uint32_t*>(g_uart + off) = v; }

void uart_out(const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    while ((reg_read(kFR) & kFrTxff) != 0) {
    }
    reg_write(kDR, static_cast<unsigned char>(p[i]));
  }
}

bool running(std::uint32_t c);
std::uint64_t generation_of(std::uint32_t c);

// One console line (without its '\n') into the mirror; the reader is signalled when it had read
// everything (and only while it is RUNNING: its slot is refilled by the root server on restart).
void mirror_line(const char* p, std::size_t n) {
  if (g_mirror_comp == kNone) return;
  const std::uint64_t gen = generation_of(g_mirror_comp);
  if (gen != g_mirror_gen) {
    g_mirror_gen = gen;
    g_mirror.rearm();
  }
  if (g_mirror.push(p, n) && running(g_mirror_comp)) keel_signal(KEEL_SLOT_SERIAL_MIRROR);
}

// Lines' output: one whole line "[name] text\n".
void uart_emit(void*, const char* p, std::size_t n) {
  mirror_line(p, n > 0 && p[n - 1] == '\n' ? n - 1 : n);
  uart_out(p, n);
}

// Before the UART is ours (or if it never is): the kernel debug console.
[[noreturn]] void fail(const char* what) {
  keel_printf("serial: fatal: %s\n", what);
  keel::rpc::send<keel::rpc::root::Exit>(int64_t{1});
  for (;;) keel_yield();
}

const volatile keel_system_page_t* system_page() { return keel::sys::system_page(g_components); }
std::uint64_t generation_of(std::uint32_t c) {
  const auto* p = system_page();
  return p != nullptr ? p->components[c].generation : 0;
}
bool running(std::uint32_t c) {
  const auto* p = system_page();
  return p == nullptr || p->components[c].state == KEEL_STATE_RUNNING;
}

// serial's own lines go through its own buffer like everyone else's.
__attribute__((format(printf, 1, 2))) void say(const char* fmt, ...) {
  char line[160];
  va_list ap;
  va_start(ap, fmt);
  int n = keel_vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  std::size_t len = static_cast<std::size_t>(n) < sizeof line - 1 ? static_cast<std::size_t>(n) : sizeof line - 2;
  line[len++] = '\n';
  g_lines.write(g_self, generation_of(g_self), reinterpret_cast<const std::uint8_t*>(line), static_cast<std::uint32_t>(len),
                uart_emit, nullptr);
}

bool info_str_is(keel_info_str_t s, const char* want) {
  if (s.off >= KEEL_INFO_MAX_BYTES || s.len > KEEL_INFO_MAX_BYTES - s.off) return false;
  const char* p = reinterpret_cast<const char*>(KEEL_INFO_VADDR + s.off);
  std::uint32_t i = 0;
  for (; i < s.len; ++i)
    if (want[i] == '\0' || want[i] != p[i]) return false;
  return want[i] == '\0';
}

template <class T>
const T* info_array(std::uint32_t off, std::uint32_t count) {
  if (off == 0 || off % 8 != 0 || off >= KEEL_INFO_MAX_BYTES || count > (KEEL_INFO_MAX_BYTES - off) / sizeof(T))
    return nullptr;
  return reinterpret_cast<const T*>(KEEL_INFO_VADDR + off);
}

void setup_uart() {
  const auto* dev = info_array<keel_info_device_t>(g_info->devices_off, g_info->device_count);
  for (std::uint32_t i = 0; dev != nullptr && i < g_info->device_count; ++i)
    if (info_str_is(dev[i].name, "uart0")) g_uart = static_cast<std::uintptr_t>(dev[i].vaddr);
  if (g_uart == 0) fail("device uart0 not granted (manifest: devices = [\"uart0\"])");
  const auto* irq = info_array<keel_info_irq_t>(g_info->irqs_off, g_info->irq_count);
  for (std::uint32_t i = 0; irq != nullptr && i < g_info->irq_count && i < KEEL_MAX_IRQS; ++i)
    if (info_str_is(irq[i].name, "uart0")) {
      g_irq_slot = irq[i].slot;
      g_irq_bit = 1ull << (KEEL_NOTIFY_IRQ_SHIFT + i);
    }
  if (g_irq_slot == 0 && g_console != kNone) fail("IRQ uart0 not granted but the system has console input");

  // The kernel's debug console may still write (polled) between our lines; keep the line format
  // and FIFO it set up, enable RX, and take RX interrupts only if someone wants the input.
  reg_write(kIMSC, 0);
  reg_write(kICR, 0x7ff);
  reg_write(kLCRH, reg_read(kLCRH) | kLcrhFen);
  reg_write(kCR, reg_read(kCR) | kCrEnable);
  if (g_console != kNone && g_irq_slot != 0) {
    reg_write(kIMSC, kIntRx | kIntRt);
    (void)keel_irq_handler_ack(g_irq_slot);
  }
}

void handle_rx() {
  while ((reg_read(kFR) & kFrRxfe) == 0) {
    const std::uint32_t d = reg_read(kDR);
    if ((d & kDrErrors) != 0) ++g_rx_errors;
    (void)g_input.push(static_cast<std::uint8_t>(d & 0xffu));  // full: dropped (counted by the ring)
  }
  reg_write(kICR, kIntRx | kIntRt | kIntErrors);
  (void)keel_irq_handler_ack(g_irq_slot);
  // Its notification cap is rebuilt by the root server when it restarts: only signal it while it
  // is RUNNING (an empty slot would be a CapFault). Input waits in the ring meanwhile, and any new
  // byte signals again for everything pending (a restarted console also reads once at start).
  if (g_input.size() > 0 && g_console != kNone && running(g_console)) keel_signal(KEEL_SLOT_PRIVILEGED + g_console);
}

// The root server's log ring (release kernels; docs/os-services.md "The root server's log"):
// complete lines are printed as they are ("root: ..."). The root never waits for us: if it wrote
// more than the ring holds since we last read, the oldest bytes are gone and we say how many.
const keel_root_log_t* root_log() {
  const auto* r = reinterpret_cast<const keel_root_log_t*>(KEEL_ROOT_LOG_VADDR);
  return r->magic == KEEL_ROOT_LOG_MAGIC ? r : nullptr;  // a debug kernel's root prints itself
}

void drain_root_log() {
  const keel_root_log_t* r = root_log();
  if (r == nullptr) return;
  constexpr std::uint64_t kSize = sizeof(r->data);
  for (;;) {
    const std::uint64_t w = __atomic_load_n(&r->written, __ATOMIC_ACQUIRE);
    if (w - g_log_read > kSize) {
      say("%lu bytes of the root server's log lost (serial fell behind)", static_cast<unsigned long>(w - kSize - g_log_read));
      g_log_read = w - kSize;
    }
    char buf[256];
    std::uint64_t n = w - g_log_read < sizeof buf ? w - g_log_read : sizeof buf;
    for (std::uint64_t i = 0; i < n; ++i) buf[i] = static_cast<char>(r->data[(g_log_read + i) % kSize]);
    // Whole lines only (a line being written stays for the next signal), unless one fills buf.
    while (n > 0 && n < sizeof buf && buf[n - 1] != '\n') --n;
    if (n == 0) return;
    // Copied while the root may have overwritten them: check before printing.
    if (__atomic_load_n(&r->written, __ATOMIC_ACQUIRE) - g_log_read > kSize) continue;
    uart_out(buf, n);
    for (std::uint64_t a = 0, i = 0; i < n; ++i)
      if (buf[i] == '\n') {
        mirror_line(buf + a, i - a);
        a = i + 1;
      }
    g_log_read += n;
  }
}

keel_word_t status_reply(keel_error_t s) { return keel_msginfo_new(s, 0, 0, 0); }

// Whether c is the console_mirror component; if not, logs (a few times per component) and false.
bool mirror_allowed(std::uint32_t c, const char* what) {
  if (c == g_mirror_comp) return true;
  if (g_mirror_denials[c] < kMirrorDenialLogLimit) {
    ++g_mirror_denials[c];
    const auto name = g_spec.str(g_spec.component(c).name);
    say("denied: %.*s asked to %s (not the console_mirror component)", static_cast<int>(name.len), name.data, what);
  }
  return false;
}

std::uint64_t now_ns() {
  std::uint64_t t;
  __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(t));
  // Without 128-bit division: whole seconds, then the remainder (< freq, so * 1e9 fits 64 bits).
  return t / g_timer_freq * 1000000000ull + t % g_timer_freq * 1000000000ull / g_timer_freq;
}

keel_word_t handle(keel_word_t badge, keel_word_t info) {
  namespace rpc = keel::rpc;
  if (badge < 1 || badge > g_components) return status_reply(KEEL_INVALID_ARGUMENT);
  const auto c = static_cast<std::uint32_t>(badge - 1);
  switch (keel_msginfo_label(info)) {
    case KEEL_SERIAL_WRITE:
      return rpc::serve<rpc::serial::Write>(info, [&](rpc::serial::Text t) -> keel::Result<std::uint64_t> {
        g_lines.write(c, generation_of(c), reinterpret_cast<const std::uint8_t*>(t.data),
                      static_cast<std::uint32_t>(t.len), uart_emit, nullptr);
        return std::uint64_t{t.len};
      });
    case KEEL_SERIAL_READ:
      return rpc::serve<rpc::serial::Read>(info, [&]() -> keel::Result<rpc::serial::Text> {
        if (c != g_console) {
          if (g_read_denials[c] < kReadDenialLogLimit) {
            ++g_read_denials[c];
            const auto name = g_spec.str(g_spec.component(c).name);
            say("denied: %.*s asked to read the console input", static_cast<int>(name.len), name.data);
          }
          return keel::Err{KEEL_DENIED};
        }
        static char bytes[KEEL_SERIAL_MAX_WRITE];  // outlives the handler: the reply is copied from it
        const std::uint32_t n = g_input.read(reinterpret_cast<std::uint8_t*>(bytes), KEEL_SERIAL_MAX_WRITE);
        return rpc::serial::Text{bytes, n};
      });
    case KEEL_SERIAL_MIRROR_READ:
      return rpc::serve<rpc::serial::MirrorRead>(info, [&]() -> keel::Result<rpc::serial::MirrorRead::Value> {
        if (!mirror_allowed(c, "read the console mirror")) return keel::Err{KEEL_DENIED};
        static char text[KEEL_SERIAL_MIRROR_MAX];
        const keel::serial::Mirror::Read r = g_mirror.read(text, KEEL_SERIAL_MIRROR_MAX);
        rpc::serial::MirrorRead::Value v;
        v.get<0>() = r.first;
        v.get<1>() = r.dropped;
        v.get<2>() = rpc::serial::MirrorText{text, r.bytes};
        return v;
      });
    case KEEL_SERIAL_TRACE:
      // Anyone with 'serial': O(1), and a flood of them is bounded by the fairness rule.
      return rpc::serve<rpc::serial::Trace>(info, [&](std::uint16_t event, std::uint32_t argument) -> keel::Result<void> {
        g_trace.record(g_trace.on() ? now_ns() : 0, c, event, argument);
        return keel::Ok{};
      });
    case KEEL_SERIAL_TRACE_SET:
      return rpc::serve<rpc::serial::TraceSet>(info, [&](std::uint32_t on) -> keel::Result<std::uint32_t> {
        if (!mirror_allowed(c, "switch tracing")) return keel::Err{KEEL_DENIED};
        if (on > 1) return keel::Err{KEEL_INVALID_ARGUMENT};
        const bool was = g_trace.set(on != 0);
        if (was != (on != 0)) say("trace %s", on != 0 ? "on" : "off");
        return std::uint32_t{was ? 1u : 0u};
      });
    case KEEL_SERIAL_TRACE_READ:
      return rpc::serve<rpc::serial::TraceRead>(info, [&]() -> keel::Result<rpc::serial::TraceRead::Value> {
        if (!mirror_allowed(c, "read the trace")) return keel::Err{KEEL_DENIED};
        static keel::serial::TraceEvent events[KEEL_SERIAL_TRACE_READ_MAX];
        std::uint32_t dropped = 0;
        const std::uint32_t n = g_trace.read(events, KEEL_SERIAL_TRACE_READ_MAX, &dropped);
        rpc::serial::TraceRead::Value v;
        v.get<0>() = dropped;
        v.get<1>() = rpc::serial::TraceEvents{events, n};
        return v;
      });
    default:
      return status_reply(KEEL_INVALID_ARGUMENT);
  }
}

}  // namespace

extern "C" int keel_main(void* start_arg) {
  const keel_info_t* info = keel::sys::adopt_info_page(start_arg);
  if (info == nullptr) fail("no component info page");
  g_info = info;
  g_self = info->index;

  auto spec = keel::sys::read_spec_copy(info, "serial");
  if (!spec.ok()) fail(spec.error());
  g_spec = spec.value();
  g_server.init(g_spec, info->index);
  g_components = g_spec.count(keel::bootspec::Table::kComponents);
  for (std::uint32_t c = 0; c < g_components; ++c) {
    const auto name = g_spec.str(g_spec.component(c).name);
    g_lines.set_name(c, name.data, name.len);
  }
  g_console = g_spec.system().console_input;
  if (g_console >= g_components) g_console = kNone;
  g_mirror_comp = g_spec.system().console_mirror;
  if (g_mirror_comp >= g_components) g_mirror_comp = kNone;
  if (g_mirror_comp != kNone) g_mirror_gen = generation_of(g_mirror_comp);
  g_timer_freq = info->timer_frequency != 0 ? info->timer_frequency : 1;

  setup_uart();
  if (const keel_root_log_t* r = root_log(); r != nullptr) g_log_read = r->resume_at;
  drain_root_log();
  if (g_console != kNone) {
    const auto name = g_spec.str(g_spec.component(g_console).name);
    say("ready: uart0, console input -> %.*s%s", static_cast<int>(name.len), name.data,
        info->generation > 0 ? " (restarted)" : "");
  } else {
    say("ready: uart0, no console input%s", info->generation > 0 ? " (restarted)" : "");
  }
  if (g_mirror_comp != kNone) {
    const auto name = g_spec.str(g_spec.component(g_mirror_comp).name);
    say("console mirror and trace -> %.*s", static_cast<int>(name.len), name.data);
  }

  keel_word_t badge = 0;
  keel_word_t msg = g_server.next(0, &badge);
  for (;;) {
    keel_word_t reply;
    if (msg == 0) {
      // Here no message is in flight (logging is an IPC that rewrites the message registers).
      g_server.report_held([](std::uint32_t c, std::uint32_t n) {
        const auto name = g_spec.str(g_spec.component(c).name);
        say("%.*s: %u answers held (over its share of this service's time)", static_cast<int>(name.len), name.data, n);
      });
      // The bound notification (IRQ bits), or an empty label-0 message from a component: that one
      // gets KEEL_INVALID_ARGUMENT from the reply below (no caller waiting: the reply goes nowhere).
      if ((badge & g_irq_bit) != 0 && g_irq_slot != 0) handle_rx();
      if ((badge & KEEL_NOTIFY_ROOT_LOG) != 0) drain_root_log();
      reply = status_reply(KEEL_INVALID_ARGUMENT);
    } else {
      reply = handle(badge, msg);
    }
    msg = g_server.next(reply, &badge);
  }
}
