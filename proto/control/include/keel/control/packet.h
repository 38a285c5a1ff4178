// keel/control/packet.h — the packet layer: header (session id, optional version, truncated packet
// number, payload length) and the frames inside (docs/control-protocol.md, "Packets" and
// "Frames"). Pure codec: parsing yields views into the caller's bytes, encoding writes into a
// caller's buffer; no state, no allocation. The session (session.h) decides what to send.
#pragma once

#include "keel/control/wire.h"

namespace keel::control {

inline constexpr uint8_t kVersion = 1;          // the only protocol version so far
inline constexpr uint8_t kMinVersion = 1;
inline constexpr size_t kMaxAckRanges = 8;      // ranges per ACK frame and ranges a receiver keeps
inline constexpr size_t kMaxReason = 64;        // CLOSE reason bytes
inline constexpr size_t kMaxHeader = 1 + 8 + 1 + 8 + 2;

// Header flags byte: bit 7 = long header (version byte present), bit 6 = acknowledge at once (the
// sender has nothing more to send right now, so the receiver should not delay its ACK), bits 1..0
// = packet-number length code (1, 2, 4, 8 bytes), bits 5..2 reserved (zero).
inline constexpr uint8_t kFlagLong = 0x80;
inline constexpr uint8_t kFlagAckNow = 0x40;

struct Header {
  uint64_t session_id = 0;
  bool long_header = false;
  bool ack_now = false;
  uint8_t version = 0;     // only when long_header
  uint64_t pn = 0;         // full packet number (decoded against the largest received)
  uint8_t pn_len = 0;      // 1, 2, 4 or 8
  Bytes payload;           // the frames
};

// Parses the header of `packet`; `largest_received` is the highest packet number received so far
// in this session (or ~0 for none) and resolves the truncated packet number (RFC 9000 A.3).
Result<Header, Error> parse_header(Bytes packet, uint64_t largest_received);
// Peeks only the session id (demultiplexing before a session is looked up).
Result<uint64_t, Error> peek_session_id(Bytes packet);

// Packet-number length the sender uses: enough for twice the distance to the largest acknowledged.
uint8_t pn_length(uint64_t pn, uint64_t largest_acked /* ~0 = none */);
// Writes a header with a placeholder payload length; returns where the length goes (finish_packet
// fills it once the frames are written). Writer::ok() is false if `out` is too small.
uint8_t* write_header(Writer& w, uint64_t session_id, bool long_header, uint8_t version, uint64_t pn,
                      uint8_t pn_len, bool ack_now = false);
void finish_packet(Writer& w, uint8_t* length_at);

enum class FrameType : uint8_t {
  Ping = 0x01,
  Ack = 0x02,
  Stream = 0x03,
  ResetStream = 0x04,
  StopSending = 0x05,
  MaxData = 0x06,
  MaxStreamData = 0x07,
  MaxStreams = 0x08,
  Close = 0x09,
};
inline constexpr uint8_t kStreamFin = 0x01;  // STREAM flags byte: bit 0 FIN, the rest reserved

// An inclusive range of packet numbers.
struct PnRange {
  uint64_t lo = 0, hi = 0;
};

// One decoded frame. Which fields are meaningful depends on `type` (docs: "Frames").
struct Frame {
  FrameType type = FrameType::Ping;
  bool fin = false;
  uint64_t stream_id = 0;
  uint64_t offset = 0;       // STREAM
  uint64_t value = 0;        // MAX_DATA / MAX_STREAM_DATA / MAX_STREAMS / RESET final size
  uint64_t code = 0;         // RESET_STREAM / STOP_SENDING / CLOSE
  uint64_t ack_delay_us = 0;
  uint8_t range_count = 0;   // ACK: ranges[0] is the highest
  PnRange ranges[kMaxAckRanges];
  Bytes data;                // STREAM payload / CLOSE reason
};

// Parses the next frame at the reader's position (strict: reserved bits, ranges, lengths).
Result<void, Error> parse_frame(Reader& r, Frame& f);
// Encodes any frame (used by the session for everything but STREAM/ACK hot paths, and by tests).
void write_frame(Writer& w, const Frame& f);
// Bytes a STREAM frame header takes before its data.
size_t stream_frame_overhead(uint64_t stream_id, uint64_t offset, size_t len);

}  // namespace keel::control
