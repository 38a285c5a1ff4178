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
}  // namespace

extern "C" {

keel_error_t keel_trace(uint16_t event, uint32_t argument) {
  return status(request<rpc::serial::Trace>(event, argument));
}

keel_error_t keel_mirror_read(uint64_t* first, uint32_t* dropped, char* buf, size_t cap, size_t* n) {
  if (first == nullptr || dropped == nullptr || n == nullptr || (buf == nullptr && cap != 0)) return KEEL_INVALID_ARGUMENT;
  *n = 0;
  // The service returns whole lines up to KEEL_SERIAL_MIRROR_MAX bytes; a smaller buffer would
  // lose the tail, so refuse one that cannot take a full reply.
  if (cap < KEEL_SERIAL_MIRROR_MAX) return KEEL_RANGE_ERROR;
  auto r = request<rpc::serial::MirrorRead>();
  if (!r.ok()) return r.error();
  const auto& [seq, lost, text] = r.value();
  *first = seq;
  *dropped = lost;
  __builtin_memcpy(buf, text.data, text.len);
  *n = text.len;
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
  // Events the service hands out are gone from its ring: ask for a full reply only.
  if (cap < KEEL_SERIAL_TRACE_READ_MAX) return KEEL_RANGE_ERROR;
  auto r = request<rpc::serial::TraceRead>();
  if (!r.ok()) return r.error();
  const auto& [lost, events] = r.value();
  __builtin_memcpy(ev, events.data, events.count * sizeof(keel_trace_event_t));
  *n = events.count;
  *dropped = lost;
  return KEEL_OK;
}

keel_error_t keel_component_restart(int index) {
  if (index < -1) return KEEL_INVALID_ARGUMENT;
  const uint64_t which = index == -1 ? KEEL_ROOT_RESTART_SYSTEM : static_cast<uint64_t>(index);
  return status(request<rpc::root::Restart>(which));
}

}  // extern "C"
