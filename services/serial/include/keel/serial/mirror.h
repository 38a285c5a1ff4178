// keel/serial/mirror.h — the console mirror and the trace buffer of the serial server, free of
// syscalls so that they are host-tested (test/mirror_test.cc) and run unchanged in the service.
//
//   Mirror:    every console line ("[name] text", without its '\n') in a bounded ring of
//              KEEL_SERIAL_MIRROR_BYTES, for the manifest's console_mirror component
//              (KEEL_SERIAL_MIRROR_READ). Lines are numbered from 0 since serial started; when the
//              ring is full the oldest lines are dropped and counted. Signal suppression as the
//              streams': push() says "signal the reader" only for the first line after a read that
//              left nothing behind.
//   TraceRing: KEEL_SERIAL_TRACE events (time, component, event, argument) in a ring of
//              KEEL_SERIAL_TRACE_EVENTS while tracing is on; the oldest dropped and counted when it is
//              full, every event counted and dropped while it is off.
// Every operation does bounded work (at most one line, one reply or one event): a component that
// floods them costs the service O(1) per call, which the fairness rule then bounds
// (keel/sys/fair_server.hh). Reference: docs/os-services.md "Serial".
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/sys/protocol.h"
#include "keel/sys/sessions.hh"

namespace keel::serial {

inline constexpr std::uint32_t kMirrorBytes = KEEL_SERIAL_MIRROR_BYTES;
inline constexpr std::uint32_t kMirrorLineMax = KEEL_SERIAL_MIRROR_LINE_MAX;  // longer lines are cut

class Mirror {
 public:
  // Appends one line (n bytes, no '\n'; cut at kMirrorLineMax; a '\n' inside becomes ' '). True
  // if the reader should be signalled now (it had read everything and said so by reading).
  bool push(const char* line, std::size_t n);

  struct Read {
    std::uint64_t first;    // sequence number of the first line returned (of the next one if none)
    std::uint32_t dropped;  // lines dropped (ring full) before `first` since the last read
    std::uint32_t bytes;    // bytes written to out: whole lines separated by '\n', no '\n' at the end
  };
  // Takes whole lines, oldest first, while they fit in max bytes (max >= kMirrorLineMax + 1: at
  // least one line always fits). A read that leaves nothing behind arms the next signal.
  Read read(char* out, std::uint32_t max);

  std::uint64_t next_sequence() const { return next_seq_; }  // lines pushed so far
  std::uint32_t size() const { return static_cast<std::uint32_t>(head_ - tail_); }  // bytes held
  std::uint32_t lines() const { return static_cast<std::uint32_t>(next_seq_ - first_seq_); }
  std::uint64_t dropped_total() const { return dropped_total_; }
  // The reader restarted: the next line signals it (it reads once at start as well).
  void rearm() { waiting_ = true; }

 private:
  void drop_oldest();
  // Ring of line bytes, each line followed by a '\n' (the separator also marks its end).
  char data_[kMirrorBytes] = {};
  std::uint64_t head_ = 0, tail_ = 0;          // bytes written / consumed (monotonic)
  std::uint64_t first_seq_ = 0, next_seq_ = 0;  // sequence number of the line at tail_ / of the next line
  std::uint32_t dropped_ = 0;                  // since the last read (saturates)
  std::uint64_t dropped_total_ = 0;
  bool waiting_ = true;                        // the reader has read everything: signal on the next line
};

using TraceEvent = keel::rpc::serial::TraceEvent;  // the wire format (keel_trace_event_t's layout)
static_assert(sizeof(TraceEvent) == 16);

inline constexpr std::uint32_t kTraceEvents = KEEL_SERIAL_TRACE_EVENTS;

class TraceRing {
 public:
  // Records an event while tracing is on (ring full: the oldest is dropped and counted); while it
  // is off, counts it and does nothing else.
  void record(std::uint64_t time_ns, std::uint32_t component, std::uint16_t event, std::uint32_t argument);
  // Switches tracing on/off; returns the previous state. Events already in the ring stay.
  bool set(bool on) {
    const bool was = on_;
    on_ = on;
    return was;
  }
  bool on() const { return on_; }
  // Takes up to max events, oldest first; *dropped = events dropped (ring full) since the last read.
  std::uint32_t read(TraceEvent* out, std::uint32_t max, std::uint32_t* dropped);
  std::uint32_t size() const { return static_cast<std::uint32_t>(head_ - tail_); }
  std::uint64_t off_count() const { return off_; }  // events that came while tracing was off

 private:
  TraceEvent ring_[kTraceEvents] = {};
  std::uint64_t head_ = 0, tail_ = 0;
  std::uint32_t dropped_ = 0;
  std::uint64_t off_ = 0;
  bool on_ = false;
};

}  // namespace keel::serial
