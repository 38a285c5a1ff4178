// keel/sys/sessions.hh — every request of every core service as one typed declaration
// (keel/sys/rpc.hh): endpoint slot, the service bit a component needs (0: the server checks who
// asks), label, request word types, reply word types. The rules of each request (who may ask,
// what is logged, the passive hand-over) are docs/os-services.md "Requests"; the labels and
// slots are keel/sys/protocol.h (the C ABI). Adding a request: a label in protocol.h, a line
// here, a `serve<...>` case in the server, `call<...>` in the client, a row in the docs table.
#pragma once

#include <stdint.h>

#include "keel/sys/protocol.h"
#include "keel/sys/rpc.hh"

namespace keel::rpc {

namespace root {
using Name = Bytes<64>;  // a device name
// Send, never answered (Caller<Exit>::send).
struct Exit : Rpc<KEEL_SLOT_ROOT_EP, 0, KEEL_ROOT_EXIT, Args<int64_t>, Reply<>> {};
// component -> state, restarts, memory bytes, generation, last fault, name
// (the name: at most 63 bytes, keel/bootspec/limits.h kMaxComponentNameLen)
struct Status : Rpc<KEEL_SLOT_ROOT_EP, KEEL_SERVICE_STATUS, KEEL_ROOT_STATUS, Args<uint32_t>,
                    Reply<uint32_t, uint32_t, uint64_t, uint64_t, uint64_t, Bytes<63>>> {};
// device name -> vaddr, size
struct Device : Rpc<KEEL_SLOT_ROOT_EP, 0, KEEL_ROOT_DEVICE, Args<Name>, Reply<uint64_t, uint64_t>> {};
// component, budget us, period us -> budget us (the sched server only)
struct SetBudget : Rpc<KEEL_SLOT_ROOT_EP, 0, KEEL_ROOT_SET_BUDGET, Args<uint32_t, uint32_t, uint32_t>,
                       Reply<uint32_t>> {};
// -> the root's window length in ticks; KEEL_NOTIFY_TICK at the next fairness window (core
// services only, keel/sys/fair.hh). A reply word: the root never sends the all-zero reply.
struct Tick : Rpc<KEEL_SLOT_ROOT_EP, 0, KEEL_ROOT_TICK, Args<>, Reply<uint64_t>> {};
// component index or KEEL_ROOT_RESTART_SYSTEM -> (started; `control = true` components only)
struct Restart : Rpc<KEEL_SLOT_ROOT_EP, 0, KEEL_ROOT_RESTART, Args<uint64_t>, Reply<>> {};
// KEEL_ROOT_PASSIVE is an NBSendRecv with no words and no reply (docs/os-services.md): not a Call,
// so it has no declaration here (libkeel channel.cc sends it).
}  // namespace root

namespace msg {
// channel (or end) name -> slot, kind, badge or notification bit mask
using Name = Bytes<8 * (KEEL_MSG_MAX_LENGTH - 1)>;
struct Open : Rpc<KEEL_SLOT_MSG_EP, 0, KEEL_MSG_OPEN, Args<Name>, Reply<uint64_t, uint64_t, uint64_t>> {};
}  // namespace msg

namespace serial {
using Text = Bytes<KEEL_SERIAL_MAX_WRITE>;
// bytes -> bytes accepted
struct Write : Rpc<KEEL_SLOT_SERIAL_EP, KEEL_SERVICE_SERIAL, KEEL_SERIAL_WRITE, Args<Text>, Reply<uint64_t>> {};
// -> bytes (the console_input component only)
struct Read : Rpc<KEEL_SLOT_SERIAL_EP, KEEL_SERVICE_SERIAL, KEEL_SERIAL_READ, Args<>, Reply<Text>> {};
using MirrorText = Bytes<KEEL_SERIAL_MIRROR_MAX>;
// -> first sequence number, lines dropped before it, lines (the console_mirror component only)
struct MirrorRead : Rpc<KEEL_SLOT_SERIAL_EP, KEEL_SERVICE_SERIAL, KEEL_SERIAL_MIRROR_READ, Args<>,
                        Reply<uint64_t, uint32_t, MirrorText>> {};
// event, argument -> (anyone)
struct Trace : Rpc<KEEL_SLOT_SERIAL_EP, KEEL_SERVICE_SERIAL, KEEL_SERIAL_TRACE, Args<uint16_t, uint32_t>, Reply<>> {};
// on (0 / 1) -> previous (the console_mirror component only)
struct TraceSet : Rpc<KEEL_SLOT_SERIAL_EP, KEEL_SERVICE_SERIAL, KEEL_SERIAL_TRACE_SET, Args<uint32_t>, Reply<uint32_t>> {};
// One trace event on the wire: two words (time ns; component | event << 16 | argument << 32).
struct TraceEvent {
  uint64_t time_ns;
  uint16_t component, event;
  uint32_t argument;
};
using TraceEvents = Records<TraceEvent, KEEL_SERIAL_TRACE_READ_MAX>;
// -> dropped, count + events (the console_mirror component only)
struct TraceRead : Rpc<KEEL_SLOT_SERIAL_EP, KEEL_SERVICE_SERIAL, KEEL_SERIAL_TRACE_READ, Args<>,
                       Reply<uint32_t, TraceEvents>> {};
}  // namespace serial

namespace clock {
// -> nanoseconds since 1970
struct Wall : Rpc<KEEL_SLOT_CLOCK_EP, KEEL_SERVICE_CLOCK, KEEL_CLOCK_WALL, Args<>, Reply<uint64_t>> {};
// timer id, deadline (ticks; 0 cancels), period (0 = one-shot)
struct Timeout : Rpc<KEEL_SLOT_CLOCK_EP, KEEL_SERVICE_CLOCK, KEEL_CLOCK_TIMEOUT, Args<uint32_t, uint64_t, uint64_t>,
                     Reply<>> {};
// -> mask of this component's timers fired since the last ask
struct Expired : Rpc<KEEL_SLOT_CLOCK_EP, KEEL_SERVICE_CLOCK, KEEL_CLOCK_EXPIRED, Args<>, Reply<uint64_t>> {};
}  // namespace clock

namespace sched {
// component -> used us, budget us, period us, manifest budget us
struct Usage : Rpc<KEEL_SLOT_SCHED_EP, KEEL_SERVICE_SCHED, KEEL_SCHED_USAGE, Args<uint64_t>,
                   Reply<uint64_t, uint32_t, uint32_t, uint32_t>> {};
// component, budget us (10 .. the manifest's budget)
struct SetBudget : Rpc<KEEL_SLOT_SCHED_EP, KEEL_SERVICE_SCHED, KEEL_SCHED_SET_BUDGET, Args<uint64_t, uint64_t>,
                       Reply<>> {};
}  // namespace sched

}  // namespace keel::rpc
