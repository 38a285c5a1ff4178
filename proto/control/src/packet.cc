// The packet and frame codec (docs/control-protocol.md, "Packets", "Frames").
#include "keel/control/packet.h"

namespace keel::control {

const char* to_string(Error e) {
  switch (e) {
    case Error::None: return "no error";
    case Error::Truncated: return "truncated";
    case Error::BadVarint: return "non-minimal variable-length integer";
    case Error::BadHeader: return "bad packet header";
    case Error::VersionUnsupported: return "protocol version not supported";
    case Error::UnknownFrame: return "unknown frame type";
    case Error::BadFrame: return "malformed frame";
    case Error::BadAck: return "malformed or impossible ACK";
    case Error::StreamLimit: return "stream limit exceeded";
    case Error::StreamState: return "frame not allowed in the stream's state";
    case Error::FlowControl: return "flow control limit exceeded";
    case Error::FinalSize: return "final size contradicts data";
    case Error::NoBuffer: return "no buffer available";
    case Error::IdleTimeout: return "idle timeout";
    case Error::Closed: return "session closed";
    case Error::BufferTooSmall: return "output buffer too small";
    case Error::Blocked: return "blocked by flow control or window";
    case Error::NoStream: return "no such stream or stream table full";
    case Error::StreamReset: return "stream reset by the peer";
    case Error::UnknownMessage: return "unknown message type";
    case Error::BadMessage: return "malformed message";
    case Error::MessageTooLarge: return "message too large";
    case Error::AuthFailed: return "authentication failed";
    case Error::AuthUnknownDevice: return "unknown device identity";
    case Error::AuthState: return "authentication message out of order or for another session";
    case Error::Internal: return "internal error";
  }
  return "?";
}

namespace {
uint8_t pn_code(uint8_t len) { return len == 1 ? 0 : len == 2 ? 1 : len == 4 ? 2 : 3; }

uint64_t decode_pn(uint64_t largest, uint64_t truncated, uint8_t len) {
  if (len == 8) return truncated;
  const uint64_t expected = largest == ~uint64_t{0} ? 0 : largest + 1;
  const uint64_t win = uint64_t{1} << (8 * len), hwin = win / 2, mask = win - 1;
  const uint64_t candidate = (expected & ~mask) | truncated;
  if (expected >= hwin && candidate <= expected - hwin && candidate < (uint64_t{1} << 62) - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}
}  // namespace

Result<uint64_t, Error> peek_session_id(Bytes packet) {
  Reader r(packet);
  TRY(r.u8());
  return r.u64();
}

Result<Header, Error> parse_header(Bytes packet, uint64_t largest_received) {
  Reader r(packet);
  Header h;
  const uint8_t flags = TRY(r.u8());
  if (flags & 0x3c) return Err{Error::BadHeader};
  h.long_header = flags & kFlagLong;
  h.ack_now = flags & kFlagAckNow;
  h.pn_len = uint8_t(1u << (flags & 3));
  h.session_id = TRY(r.u64());
  if (h.long_header) h.version = TRY(r.u8());
  Bytes pn = TRY(r.bytes(h.pn_len));
  uint64_t t = 0;
  for (uint8_t b : pn) t = t << 8 | b;
  if (t > kVarintMax) return Err{Error::BadHeader};
  h.pn = decode_pn(largest_received, t, h.pn_len);
  if (h.pn > kVarintMax) return Err{Error::BadHeader};
  const uint16_t len = TRY(r.u16());
  if (len != r.left()) return Err{len > r.left() ? Error::Truncated : Error::BadHeader};
  if (len == 0) return Err{Error::BadHeader};  // a packet carries at least one frame
  h.payload = {r.cursor(), len};
  return h;
}

uint8_t pn_length(uint64_t pn, uint64_t largest_acked) {
  const uint64_t unacked = largest_acked == ~uint64_t{0} ? pn + 1 : pn - largest_acked;
  if (unacked < 0x80) return 1;
  if (unacked < 0x8000) return 2;
  if (unacked < 0x80000000ull) return 4;
  return 8;
}

uint8_t* write_header(Writer& w, uint64_t session_id, bool long_header, uint8_t version, uint64_t pn, uint8_t pn_len,
                      bool ack_now) {
  w.u8(uint8_t((long_header ? kFlagLong : 0) | (ack_now ? kFlagAckNow : 0) | pn_code(pn_len)));
  w.u64(session_id);
  if (long_header) w.u8(version);
  for (int i = pn_len - 1; i >= 0; --i) w.u8(uint8_t(pn >> (8 * i)));
  return w.skip(2);
}

void finish_packet(Writer& w, uint8_t* length_at) {
  if (!w.ok()) return;
  const size_t len = size_t(w.cursor() - (length_at + 2));
  length_at[0] = uint8_t(len >> 8);
  length_at[1] = uint8_t(len);
}

size_t stream_frame_overhead(uint64_t id, uint64_t offset, size_t len) {
  return 2 + varint_size(id) + varint_size(offset) + varint_size(len);
}

Result<void, Error> parse_frame(Reader& r, Frame& f) {
  const uint8_t type = TRY(r.u8());
  f.type = FrameType(type);
  switch (f.type) {
    case FrameType::Ping: return {};
    case FrameType::Ack: {
      const uint64_t largest = TRY(r.varint());
      f.ack_delay_us = TRY(r.varint());
      const uint64_t count = TRY(r.varint());
      if (count >= kMaxAckRanges) return Err{Error::BadAck};
      const uint64_t first = TRY(r.varint());
      if (first > largest) return Err{Error::BadAck};
      f.ranges[0] = {largest - first, largest};
      for (uint64_t i = 1; i <= count; ++i) {
        const uint64_t gap = TRY(r.varint());
        const uint64_t len = TRY(r.varint());
        const uint64_t prev_lo = f.ranges[i - 1].lo;
        // The next range ends at prev_lo - gap - 2 (RFC 9000 §19.3.1) and spans len + 1 numbers.
        if (prev_lo < gap + 2 || prev_lo - gap - 2 < len) return Err{Error::BadAck};
        const uint64_t hi = prev_lo - gap - 2;
        f.ranges[i] = {hi - len, hi};
      }
      f.range_count = uint8_t(count + 1);
      return {};
    }
    case FrameType::Stream: {
      f.stream_id = TRY(r.varint());
      const uint8_t flags = TRY(r.u8());
      if (flags & ~kStreamFin) return Err{Error::BadFrame};
      f.fin = flags & kStreamFin;
      f.offset = TRY(r.varint());
      const uint64_t len = TRY(r.varint());
      if (len == 0 && !f.fin) return Err{Error::BadFrame};
      if (f.offset + len > kVarintMax) return Err{Error::BadFrame};
      f.data = TRY(r.bytes(len));
      return {};
    }
    case FrameType::ResetStream:
      f.stream_id = TRY(r.varint());
      f.code = TRY(r.varint());
      f.value = TRY(r.varint());
      return {};
    case FrameType::StopSending:
      f.stream_id = TRY(r.varint());
      f.code = TRY(r.varint());
      return {};
    case FrameType::MaxData:
    case FrameType::MaxStreams: f.value = TRY(r.varint()); return {};
    case FrameType::MaxStreamData:
      f.stream_id = TRY(r.varint());
      f.value = TRY(r.varint());
      return {};
    case FrameType::Close: {
      f.code = TRY(r.varint());
      const uint64_t len = TRY(r.varint());
      if (len > kMaxReason) return Err{Error::BadFrame};
      f.data = TRY(r.bytes(len));
      return {};
    }
  }
  return Err{Error::UnknownFrame};
}

void write_frame(Writer& w, const Frame& f) {
  w.u8(uint8_t(f.type));
  switch (f.type) {
    case FrameType::Ping: break;
    case FrameType::Ack: {
      w.varint(f.ranges[0].hi);
      w.varint(f.ack_delay_us);
      w.varint(f.range_count - 1u);
      w.varint(f.ranges[0].hi - f.ranges[0].lo);
      for (size_t i = 1; i < f.range_count; ++i) {
        w.varint(f.ranges[i - 1].lo - f.ranges[i].hi - 2);
        w.varint(f.ranges[i].hi - f.ranges[i].lo);
      }
      break;
    }
    case FrameType::Stream:
      w.varint(f.stream_id);
      w.u8(f.fin ? kStreamFin : 0);
      w.varint(f.offset);
      w.varint(f.data.size());
      w.bytes(f.data);
      break;
    case FrameType::ResetStream:
      w.varint(f.stream_id);
      w.varint(f.code);
      w.varint(f.value);
      break;
    case FrameType::StopSending:
      w.varint(f.stream_id);
      w.varint(f.code);
      break;
    case FrameType::MaxData:
    case FrameType::MaxStreams: w.varint(f.value); break;
    case FrameType::MaxStreamData:
      w.varint(f.stream_id);
      w.varint(f.value);
      break;
    case FrameType::Close:
      w.varint(f.code);
      w.varint(f.data.size());
      w.bytes(f.data);
      break;
  }
}

}  // namespace keel::control
