// keel/serial/lines.h — the serial server's buffering logic, free of syscalls and device access so
// that it runs unchanged in the serial component (aarch64 EL0) and in host unit tests.
//
//   Lines:     one line buffer per component; a line leaves as one piece "[name] text\n" when its
//              newline arrives or the buffer is full, so output of different components never
//              interleaves inside a line. Text is sanitised: a component cannot move the cursor,
//              clear the screen or forge another component's prefix with control characters.
//   InputRing: console input bytes waiting for the console_input component.
// The requests themselves are typed (keel/sys/sessions.hh: serial::Write, serial::Read).
//
// Freestanding: no heap, no exceptions, no libc beyond what the compiler emits.
#pragma once

#include <cstddef>
#include <cstdint>

#include "keel/sys/protocol.h"

namespace keel::serial {

inline constexpr std::uint32_t kLineMax = 120;      // bytes of text per line before a forced flush
inline constexpr std::uint32_t kNameMax = 32;       // longest prefix name printed
inline constexpr std::uint32_t kInputSize = 1024;   // console input bytes kept for the reader
// "[" name "] " text "\n"
inline constexpr std::uint32_t kOutLineMax = 1 + kNameMax + 2 + kLineMax + 1;

// Copies n bytes from in to out, replacing what must not reach a terminal by '?': everything but
// printable ASCII, tab and well-formed UTF-8 sequences of code points >= U+00A0 (C1 controls,
// overlong forms, surrogates and truncated sequences are replaced byte by byte). Same length out.
void sanitize(const std::uint8_t* in, std::size_t n, char* out);

// Receives each finished line, already formatted, in one call.
using Emit = void (*)(void* ctx, const char* data, std::size_t n);

class Lines {
 public:
  // The prefix of component c (not copied: the memory must outlive this object). Names longer
  // than kNameMax are cut.
  void set_name(std::uint32_t c, const char* name, std::uint32_t len);

  // Appends n bytes written by component c (generation gen: a partial line left by an earlier
  // generation is flushed first, so a restarted component starts on a line of its own). '\r' is
  // dropped; '\n' ends a line; a full buffer is flushed as a line. Returns n.
  std::uint32_t write(std::uint32_t c, std::uint64_t gen, const std::uint8_t* data, std::uint32_t n, Emit emit,
                      void* ctx);
  // Emits component c's partial line, if any.
  void flush(std::uint32_t c, Emit emit, void* ctx);
  std::uint32_t pending(std::uint32_t c) const { return c < KEEL_MAX_COMPONENTS ? bufs_[c].len : 0; }

 private:
  void emit_line(std::uint32_t c, Emit emit, void* ctx);
  struct Buf {
    std::uint8_t data[kLineMax];
    std::uint32_t len;
    std::uint64_t gen;
  };
  struct Name {
    const char* data;
    std::uint32_t len;
  };
  Buf bufs_[KEEL_MAX_COMPONENTS] = {};
  Name names_[KEEL_MAX_COMPONENTS] = {};
};

class InputRing {
 public:
  // false (and the byte is counted as dropped) when full: the oldest input is kept.
  bool push(std::uint8_t b);
  std::uint32_t read(std::uint8_t* out, std::uint32_t max);
  std::uint32_t size() const { return static_cast<std::uint32_t>(head_ - tail_); }
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::uint8_t data_[kInputSize] = {};
  std::uint64_t head_ = 0, tail_ = 0, dropped_ = 0;
};

}  // namespace keel::serial
