// libkeel: the console mirror and the trace buffer (serial service) and restarts on request (root
// server). Reference: docs/libkeel.md "Mirror, trace and restart"; the requests are
// docs/os-services.md "Serial" and "Supervision".
#include "keel/keel.h"
#include "keel_internal.h"

namespace {
namespace rpc = keel::rpc;
using keel::detail::request;
using keel::detail::status;

static_assert(sizeof(keel_trace_event_t) == sizeof(rpc::serial::TraceEvent), "trace event layout");
static_assert(sizeof(keel_trace_event_t) == 16 && offsetof(keel_trace_event_t, component) == 8 &&
                  offsetof(keel_trace_event_t, event) == 10 && offsetof(keel_trace_event_t, argument) == 12,
              "trace event layout is the wire format (docs/os-services.md)");

// (Zero-initialised statics.) What a reply held beyond the caller's buffer, handed out by the next calls before the service
// is asked again (a reply, once sent, is gone from the service's ring).
struct MirrorLeft {
  char text[KEEL_SERIAL_MIRROR_MAX];
  size_t len, off;
  uint64_t seq;      // sequence number of the line at text[off]
  uint32_t dropped;  // not yet reported
};
MirrorLeft g_mirror;
struct TraceLeft {
  keel_trace_event_t events[KEEL_SERIAL_TRACE_READ_MAX];
  size_t count, off;
};
TraceLeft g_trace;
}  // namespace

extern "C" {

keel_error_t keel_trace(uint16_t event, uint32_t argument) {
  return status(request<rpc::serial::Trace>(event, argument));
}

keel_error_t keel_mirror_read(uint64_t* first, uint32_t* dropped, char* buf, size_t cap, size_t* n) {
  if (first == nullptr || dropped == nullptr || n == nullptr || (buf == nullptr && cap != 0)) return KEEL_INVALID_ARGUMENT;
  *n = 0;
  MirrorLeft& m = g_mirror;
  if (m.off == m.len) {
    // Nothing left from the last reply: ask the service.
    auto r = request<rpc::serial::MirrorRead>();
    if (!r.ok()) return r.error();
    const auto& [seq, lost, text] = r.value();
    __builtin_memcpy(m.text, text.data, text.len);
    m.len = text.len;
    m.off = 0;
    m.seq = seq;
    m.dropped = lost;
  }
  // Whole lines from what is left, while they fit in cap.
  size_t out = 0, at = m.off;
  uint64_t lines = 0;
  while (at < m.len) {
    size_t end = at;
    while (end < m.len && m.text[end] != '\n') ++end;
    const size_t need = (out == 0 ? 0 : 1) + (end - at);
    if (out + need > cap) break;
    if (out != 0) buf[out++] = '\n';
    __builtin_memcpy(buf + out, m.text + at, end - at);
    out += end - at;
    ++lines;
    at = end < m.len ? end + 1 : end;
  }
  if (out == 0 && m.off < m.len) return KEEL_RANGE_ERROR;  // cap below the next line: nothing taken
  *first = m.seq;
  *dropped = m.dropped;
  m.dropped = 0;
  m.seq += lines;
  m.off = at;
  *n = out;
  return KEEL_OK;
}

keel_error_t keel_trace_enable(bool on, bool* was_on) {
  auto r = request<rpc::serial::TraceSet>(on ? 1u : 0u);
  if (!r.ok()) return r.error();
  if (was_on != nullptr) *was_on = r.value() != 0;
  return KEEL_OK;
}

keel_error_t keel_trace_read(keel_trace_event_t* ev, size_t cap, size_t* n, uint32_t* dropped) {
  if (n == nullptr || dropped == nullptr || (ev == nullptr && cap != 0)) return KEEL_INVALID_ARGUMENT;
  *n = 0;
  *dropped = 0;
  TraceLeft& t = g_trace;
  if (t.off == t.count) {
    auto r = request<rpc::serial::TraceRead>();
    if (!r.ok()) return r.error();
    const auto& [lost, events] = r.value();
    __builtin_memcpy(t.events, events.data, events.count * sizeof(keel_trace_event_t));
    t.count = events.count;
    t.off = 0;
    *dropped = lost;  // reported with the first events of this reply
  }
  size_t k = t.count - t.off < cap ? t.count - t.off : cap;
  __builtin_memcpy(ev, t.events + t.off, k * sizeof(keel_trace_event_t));
  t.off += k;
  *n = k;
  return KEEL_OK;
}

keel_error_t keel_component_restart(int index) {
  if (index < -1) return KEEL_INVALID_ARGUMENT;
  const uint64_t which = index == -1 ? KEEL_ROOT_RESTART_SYSTEM : static_cast<uint64_t>(index);
  keel_flush();  // the caller may be part of the restart: its pending output goes out first
  return status(request<rpc::root::Restart>(which));
}

}  // extern "C"
