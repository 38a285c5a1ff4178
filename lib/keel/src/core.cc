// libkeel core: adopting the info page at start, exit through the root server, line-buffered
// output to the serial service, and the notification word. Components are single-threaded (one
// thread per component, docs/os-services.md), so the state here is plain globals.
#include <stdarg.h>

#include "keel/keel.h"
#include "keel_internal.h"

namespace {

const keel_info_t* g_info = nullptr;
uint64_t g_pending = 0;  // notification bits received but not yet returned to a waiter

// Output: one line at a time. 256 bytes: a longer line is sent in pieces (the serial server
// breaks lines at 120 bytes anyway).
constexpr size_t kLineMax = 256;
char g_line[kLineMax];
size_t g_line_len = 0;
bool g_flushing = false;

// The kernel debug console, only if the manifest grants it (`debug = ["console"]`): for any other
// component DebugPutChar is a fault, so its output without a serial service is dropped.
bool debug_console() { return g_info != nullptr && (g_info->flags & KEEL_INFO_DEBUG_CONSOLE) != 0; }

// The fallback: the kernel console takes one character per syscall, so lines of two components
// printing at once can interleave there. With the serial service every line is one message.
void debug_console_line(const char* p, size_t n) {
  if (!debug_console()) return;
  keel_debug_putchar('[');
  for (const char* s = keel_name(); *s != '\0'; ++s) keel_debug_putchar(*s);
  keel_debug_putchar(']');
  keel_debug_putchar(' ');
  for (size_t i = 0; i < n; ++i) keel_debug_putchar(p[i]);
}

// KEEL_SERIAL_WRITE of n bytes (n <= KEEL_SERIAL_MAX_WRITE); true if the serial server took them.
bool serial_write(const char* p, size_t n) {
  return keel::rpc::call<keel::rpc::serial::Write>(keel::rpc::serial::Text{p, n}).ok();
}

void flush_line() {
  if (g_line_len == 0 || g_flushing) return;
  g_flushing = true;
  bool newline = g_line[g_line_len - 1] == '\n';
  if (!serial_write(g_line, g_line_len)) {
    debug_console_line(g_line, g_line_len);
    if (!newline && debug_console()) keel_debug_putchar('\n');
  }
  g_line_len = 0;
  g_flushing = false;
}

}  // namespace

namespace keel::detail {
uint64_t& pending_bits() { return g_pending; }
}  // namespace keel::detail

extern "C" {

// Called by lib/rt's start before constructors (weak hook, linked in by keel_add_component).
void __keel_component_init(void* start_arg) {
  if (reinterpret_cast<uintptr_t>(start_arg) != KEEL_INFO_VADDR) return;  // not a component
  const auto* info = static_cast<const keel_info_t*>(start_arg);
  const char* why = nullptr;
  if (keel_info_check(info, KEEL_INFO_MAX_BYTES, &why) != KEEL_OK) {
    keel_printf("libkeel: the info page is invalid (%s); exiting\n", why);
    keel_exit(125);
  }
  g_info = info;
}

// Called by lib/rt's keel_exit. Returns only if this is not a component or the exit was refused.
void __keel_component_exit(int code) {
  if (g_info == nullptr) return;
  flush_line();
  keel::rpc::send<keel::rpc::root::Exit>(int64_t{code});
  keel_printf("libkeel: the root server did not take the exit\n");
}

// Called by lib/rt's keel_putc for every character printed.
bool __keel_component_putc(char c) {
  if (g_info == nullptr) return false;
  if (g_flushing) {  // output while sending a line (cannot happen unless a hook prints): bypass
    if (debug_console()) keel_debug_putchar(c);
    return true;
  }
  g_line[g_line_len++] = c;
  if (c == '\n' || g_line_len == kLineMax) flush_line();
  return true;
}

const keel_info_t* keel_info(void) { return g_info; }
const char* keel_name(void) { return g_info ? keel_info_string(g_info, g_info->name) : ""; }
const char* keel_system_name(void) { return g_info ? keel_info_string(g_info, g_info->system) : ""; }
uint32_t keel_index(void) { return g_info ? g_info->index : 0; }
uint64_t keel_generation(void) { return g_info ? g_info->generation : 0; }
bool keel_has_service(uint32_t bit) { return g_info != nullptr && (g_info->services & bit) != 0; }

void keel_log(const char* line) {
  size_t n = 0;
  for (; line[n] != '\0'; ++n) keel_putc(line[n]);
  if (n == 0 || line[n - 1] != '\n') keel_putc('\n');
}

int keel_logf(const char* fmt, ...) {
  char buf[kLineMax];
  va_list ap;
  va_start(ap, fmt);
  int n = keel_vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  keel_log(buf);
  return n;
}

void keel_flush(void) { flush_line(); }

uint64_t keel_notify_poll(uint64_t mask) {
  if (g_info == nullptr) return 0;
  keel_word_t word = 0;
  keel_poll(KEEL_SLOT_NOTIFY, &word);
  g_pending |= word;
  uint64_t got = g_pending & mask;
  g_pending &= ~got;
  return got;
}

uint64_t keel_notify_wait(uint64_t mask) {
  if (g_info == nullptr || mask == 0) return 0;
  keel::detail::flush_reply();
  while ((g_pending & mask) == 0) {
    keel_word_t word = 0;
    // Only a bit of `mask` wakes the thread: a peer signalling another channel's bit in a loop
    // costs it nothing until it waits for that channel (the others accumulate in the kernel).
    keel_wait_mask(KEEL_SLOT_NOTIFY, mask, &word);
    g_pending |= word;
  }
  uint64_t got = g_pending & mask;
  g_pending &= ~got;
  return got;
}

}  // extern "C"
