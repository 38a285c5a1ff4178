// Private constants shared by the session's source files (session.cc, recovery.cc, streams.cc).
#pragma once

#include <cstdint>

namespace keel::control::detail {

// Stream flags (Stream::flags).
inline constexpr uint16_t kSUsed = 1 << 0;
inline constexpr uint16_t kSAccepted = 1 << 1;     // the owner knows the stream
inline constexpr uint16_t kSFinWritten = 1 << 2;   // the owner wrote its last byte
inline constexpr uint16_t kSFinSent = 1 << 3;
inline constexpr uint16_t kSFinAcked = 1 << 4;
inline constexpr uint16_t kSResetSend = 1 << 5;    // we abandoned our direction
inline constexpr uint16_t kSResetPending = 1 << 6; // RESET_STREAM to (re)send
inline constexpr uint16_t kSResetAcked = 1 << 7;
inline constexpr uint16_t kSRecvFin = 1 << 8;      // final size known (rcv_final)
inline constexpr uint16_t kSRecvReset = 1 << 9;
inline constexpr uint16_t kSRecvDone = 1 << 10;    // the owner has everything (or gave up)
inline constexpr uint16_t kSMsdPending = 1 << 11;  // MAX_STREAM_DATA to (re)send
inline constexpr uint16_t kSStopPending = 1 << 12; // STOP_SENDING to (re)send
inline constexpr uint16_t kSStopped = 1 << 13;     // we discard what arrives

// Control frames a sent packet carried (SentRecord::ctrl, Session::ctrl_pending_).
inline constexpr uint8_t kCtrlMaxData = 1;
inline constexpr uint8_t kCtrlMaxStreams = 2;

inline uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
inline uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

}  // namespace keel::control::detail
