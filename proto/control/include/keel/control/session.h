// keel/control/session.h — one control-protocol session between a device (client) and Fleet
// (server): reliable, ordered, flow-controlled byte streams over datagrams (the payloads of UDP
// datagrams inside the WireGuard tunnel). Loss recovery and congestion control follow QUIC's
// RFC 9002 with one packet-number space; the wire format is docs/control-protocol.md.
//
// Portable and passive, like keel::wg::Engine: the session never reads a clock or touches a
// socket. The owner passes a Context (clock, block pool, timing) shared by all its sessions, hands
// every received datagram to receive() with its source address, calls poll_send() until it
// returns 0 after anything that may produce output (receive, write, read, tick), and calls tick()
// at or after next_deadline().
//
// Memory: a Session is a fixed-size object (sizeof checked by memory_test; figures in the doc) plus
// one Stream record per open stream, from the Context's BlockPool. Buffers — a stream's send
// window, its receive window, the retransmission records — are fixed size blocks from the same
// pool, taken when data is in flight and returned when it is acknowledged or read, so an idle
// session holds no block. When the pool is empty, writes report
// Blocked and received data is not acknowledged (the peer retransmits): nothing ever grows.
//
// Not thread-safe: the owner serialises calls per session (Fleet: one session per shard thread).
#pragma once

#include "keel/control/packet.h"
#include "keel/control/ranges.h"

namespace keel::control {

inline constexpr size_t kStreamWindow = 16384;     // per stream and direction (receive credit)
inline constexpr size_t kSessionWindow = 65536;    // session-level receive credit
inline constexpr size_t kStreamsPerSide = 4;       // streams each side may have open at once
inline constexpr size_t kMaxStreams = 2 * kStreamsPerSide;
inline constexpr size_t kMaxInFlight = 224;        // ack-eliciting packets in flight (a ring fits a block)
inline constexpr size_t kMaxFramesPerPacket = 2;   // STREAM frames per packet
inline constexpr size_t kRangesPerStream = 8;
inline constexpr size_t kMinDatagram = 256;
inline constexpr uint64_t kPacketThreshold = 3;    // RFC 9002 kPacketThreshold
inline constexpr uint64_t kGranularity = 1 * kMs;  // RFC 9002 kGranularity
inline constexpr size_t kBurstPackets = 10;        // pacing: packets sent back to back at most

class Clock {
 public:
  virtual uint64_t now_ns() = 0;  // monotonic

 protected:
  ~Clock() = default;  // not virtual: no deleting destructor, so no operator delete on the device
};

// The pooled buffers (one block each).
struct SendBuf {
  RangeSet<kRangesPerStream> acked;  // acknowledged bytes above the stream's snd_una
  RangeSet<kRangesPerStream> lost;   // bytes to retransmit
  uint8_t data[kStreamWindow];       // byte at offset o lives at data[o % kStreamWindow]
};
struct RecvBuf {
  RangeSet<kRangesPerStream> have;   // received bytes at or above rcv_read
  uint8_t data[kStreamWindow];
};
struct SentFrame {
  uint64_t stream_id;
  uint64_t offset;
  uint16_t len;
  bool fin;
};
struct SentRecord {
  uint64_t pn;
  uint64_t time_ns;
  uint16_t bytes;
  uint8_t state;        // 0 in flight, 1 acknowledged or lost (a tombstone until the head passes)
  uint8_t nframes;
  uint8_t ctrl;         // kCtrl* bits: control frames this packet carried
  uint8_t msd_mask;     // MAX_STREAM_DATA carried, by stream slot
  uint8_t reset_mask;   // RESET_STREAM carried, by slot
  uint8_t stop_mask;    // STOP_SENDING carried, by slot
  SentFrame frames[kMaxFramesPerPacket];
};
struct SentRing {
  SentRecord r[kMaxInFlight];
};
// One open stream's state (a record from the Context's BlockPool while the stream is open).
struct Stream {
  uint64_t id = 0;
  uint16_t flags = 0;                // kS* bits (session.cc)
  uint64_t snd_una = 0, snd_next = 0, snd_end = 0, snd_max = 0;
  uint64_t rcv_read = 0, rcv_high = 0, rcv_max = 0, rcv_final = 0;
  uint64_t code = 0;                 // reset code received (or sent)
  SendBuf* sbuf = nullptr;
  RecvBuf* rbuf = nullptr;
};
inline constexpr size_t kBlockSize = [] {
  size_t m = sizeof(SendBuf);
  if (sizeof(RecvBuf) > m) m = sizeof(RecvBuf);
  if (sizeof(SentRing) > m) m = sizeof(SentRing);
  return m;
}();

// What a block is for. A pool keeps a reserve that only SentRing may take: a session needs its ring
// to send anything (and so to get its buffered data acknowledged and freed), so rings must never
// be starved by stream buffers, or sessions holding buffers could wait on each other for ever.
enum class BlockUse : uint8_t { SentRing, SendBuffer, ReceiveBuffer };

// Fixed-size blocks of kBlockSize bytes (8-byte aligned), shared by every session of an owner, and
// the records of open streams (one Stream each: a session holds a record only while the stream is
// open, so an idle session with one open stream holds one record, not kMaxStreams).
class BlockPool {
 public:
  virtual void* acquire(BlockUse use) = 0;  // nullptr when exhausted (for `use`)
  virtual void release(void* block) = 0;
  // nullptr when exhausted: open_stream() is then Blocked, and a datagram opening a peer's stream
  // is dropped unacknowledged (NoBuffer: the peer sends it again), as when blocks run out.
  virtual Stream* acquire_stream() = 0;
  virtual void release_stream(Stream* s) = 0;

 protected:
  ~BlockPool() = default;  // not virtual: no deleting destructor, so no operator delete on the device
};

// A static pool of N blocks, the last `RingReserve` of them for sent-packet rings only, and of
// `Streams` stream records (default: every stream of one session) (the device; tests). Fleet's
// link server grows its pool in slabs, with the same reserve rule.
template <size_t N, size_t RingReserve = (N + 3) / 4, size_t Streams = kMaxStreams>
class FixedBlockPool final : public BlockPool {
  static_assert(RingReserve >= 1 && RingReserve < N, "a pool needs blocks for buffers and for rings");

 public:
  FixedBlockPool() {
    for (size_t i = 0; i < N; ++i) free_[i] = &blocks_[i];
    nfree_ = N;
    for (size_t i = 0; i < Streams; ++i) free_streams_[i] = &streams_[i];
    nfree_streams_ = Streams;
  }
  void* acquire(BlockUse use) override {
    if (use != BlockUse::SentRing && nfree_ <= RingReserve) return nullptr;
    return nfree_ ? free_[--nfree_] : nullptr;
  }
  void release(void* b) override { free_[nfree_++] = static_cast<Block*>(b); }
  Stream* acquire_stream() override { return nfree_streams_ ? free_streams_[--nfree_streams_] : nullptr; }
  void release_stream(Stream* s) override { free_streams_[nfree_streams_++] = s; }
  size_t in_use() const { return N - nfree_; }
  size_t streams_in_use() const { return Streams - nfree_streams_; }

 private:
  struct alignas(8) Block {
    uint8_t bytes[kBlockSize];
  };
  Block blocks_[N];
  Block* free_[N];
  size_t nfree_ = 0;
  Stream streams_[Streams];
  Stream* free_streams_[Streams];
  size_t nfree_streams_ = 0;
};

struct Timing {
  uint64_t initial_rtt = 333 * kMs;  // RFC 9002 kInitialRtt
  uint64_t max_ack_delay = 25 * kMs;
  uint64_t idle_timeout = 60 * kSec;
  uint64_t keepalive = 0;            // PING after this long without sending (0 = off; device: 15 s)
  uint64_t max_pto = 30 * kSec;      // back-off ceiling
};

struct Context {
  Clock& clock;
  BlockPool& pool;
  Timing timing{};
  uint16_t max_datagram = 1392;  // bytes per datagram: WireGuard MTU 1420 - IPv4 20 - UDP 8
  // Stream buffers one session may hold at once (its ring comes on top): Fleet's bound on what a
  // single device, hostile or not, can take from the shared pool. At most 2 * kMaxStreams.
  uint8_t max_stream_blocks = 2 * kMaxStreams;
};

// The datagram's source as the owner saw it (for roaming; opaque to the protocol otherwise).
struct Address {
  uint8_t family = 0;  // 0 unknown, 4, 6
  uint16_t port = 0;
  uint8_t addr[16] = {};
  bool operator==(const Address& o) const;
};

enum class Role : uint8_t { Client, Server };
enum class State : uint8_t { Connecting, Open, Closing, Closed };

struct Stats {
  uint64_t packets_sent = 0, packets_received = 0, packets_lost = 0, duplicates = 0;
  uint64_t bytes_retransmitted = 0, ptos = 0, dropped = 0;
  uint64_t congestion_events = 0;
  uint32_t cwnd_before_reduction = 0;  // at the last congestion event
};

struct Rtt {
  uint64_t latest = 0, smoothed = 0, var = 0, min = 0;
  bool sampled = false;
  void sample(uint64_t latest_rtt, uint64_t ack_delay, uint64_t max_ack_delay);
};

class Session {
 public:
  // A client session (the device) chooses a random, non-zero session id; a server session is made
  // by the owner for a first packet (see accept()).
  Session(Context& ctx, Role role, uint64_t session_id);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Checks a datagram that names no known session: a long header with a supported version and a
  // non-zero session id. Fleet creates a server Session for it (after its own admission checks)
  // and passes the same datagram to receive(). On VersionUnsupported, version_refusal() writes the
  // reply that tells the client which version this side speaks.
  static Result<uint64_t, Error> accept(Bytes first_datagram);
  static size_t version_refusal(Bytes first_datagram, MutBytes out);

  // One received datagram. Errors: header problems and NoBuffer drop the datagram (the session is
  // unaffected); a protocol violation closes the session with that error (CLOSE is then sent).
  Result<void, Error> receive(Bytes datagram, const Address& from);
  // Writes the next datagram to send into out (>= ctx.max_datagram bytes); 0 = nothing to send now.
  size_t poll_send(MutBytes out);
  void tick();
  uint64_t next_deadline() const;  // 0 = no timer

  // Streams (bidirectional). open_stream: Blocked when the peer's stream limit or our slots are
  // used up. write: bytes accepted (may be fewer than data.size(); 0 with Blocked when the send
  // window is full); fin with the last bytes. read: bytes read; fin set once the final byte is read.
  Result<uint64_t, Error> open_stream();
  Result<size_t, Error> write(uint64_t id, Bytes data, bool fin = false);
  Result<size_t, Error> read(uint64_t id, MutBytes out, bool& fin);
  Result<void, Error> reset_stream(uint64_t id, uint64_t code);
  Result<void, Error> stop_sending(uint64_t id, uint64_t code);
  // The next stream the peer opened that the owner has not accepted yet.
  Result<uint64_t, Error> accept_stream();
  size_t readable(uint64_t id) const;      // contiguous bytes ready to read
  size_t writable(uint64_t id) const;      // bytes write() would take now
  bool stream_open(uint64_t id) const;

  void close(Error code);
  State state() const { return state_; }
  Error close_error() const { return close_error_; }
  bool closed_by_peer() const { return closed_by_peer_; }
  uint64_t id() const { return id_; }
  Role role() const { return role_; }
  const Address& peer_address() const { return peer_; }
  bool take_path_changed();
  const Rtt& rtt() const { return rtt_; }
  uint32_t cwnd() const { return cwnd_; }
  uint32_t bytes_in_flight() const { return in_flight_; }
  const Stats& stats() const { return stats_; }
  uint64_t pto_ns() const;  // the current probe timeout, without back-off

 private:
  friend struct SessionTestAccess;
  // session.cc: packets in and out, timers
  Result<void, Error> on_frame(const Frame& f, bool& ack_eliciting);
  Result<void, Error> fail(Error e);
  size_t build_close(MutBytes out);
  bool want_ack(uint64_t now) const;
  void write_ack(Writer& w, uint64_t now);
  // recovery.cc: RTT, loss detection, congestion control, the sent ring
  Result<void, Error> on_ack(const Frame& f, uint64_t now);
  void detect_lost(uint64_t now);
  void on_lost(SentRecord& r, uint64_t now);
  void on_acked(SentRecord& r);
  void congestion_event(uint64_t sent_time, uint64_t now);
  void set_loss_timer(uint64_t now);
  SentRecord* push_record();
  void compact_ring();
  void on_pto(uint64_t now);
  bool pacing_allows(uint64_t now, size_t bytes);
  uint64_t pacing_deadline() const;
  uint64_t pto_deadline() const;
  void reset_congestion();
  // streams.cc
  Stream* find(uint64_t id);
  const Stream* find(uint64_t id) const;
  int slot_of(const Stream* s) const {
    for (size_t i = 0; i < kMaxStreams; ++i)
      if (streams_[i] == s) return int(i);
    return -1;
  }
  Result<Stream*, Error> stream_for_frame(uint64_t id);
  Result<void, Error> on_stream(const Frame& f);
  Result<void, Error> on_reset(const Frame& f);
  Result<void, Error> on_stop(const Frame& f);
  Result<void, Error> on_max_stream_data(const Frame& f);
  bool next_stream_chunk(size_t room, SentFrame& out, Stream*& s);
  bool has_sendable() const;  // stream data or a FIN that credit allows to send now
  void on_stream_acked(const SentFrame& f);
  void on_stream_lost(const SentFrame& f);
  void maybe_free(Stream& s);
  void release_blocks();
  Stream* new_stream(size_t slot);  // a fresh record from the pool in `slot`; nullptr when none
  void free_stream(Stream& s);      // back to the pool, its slot free
  void release_streams();
  void* take_block(BlockUse use);  // within the session's quota; nullptr when none
  void give_block(void* block);
  bool local_stream(uint64_t id) const { return (id & 1) == (role_ == Role::Server ? 1u : 0u); }

  Context& ctx_;
  uint64_t id_;
  Role role_;
  State state_ = State::Connecting;
  Error close_error_ = Error::None;
  bool closed_by_peer_ = false;
  bool close_pending_ = false;
  bool path_changed_ = false;
  bool peer_sent_short_ = false;  // server: the client has seen our version (long header no more)
  uint8_t pto_count_ = 0;
  uint8_t probes_ = 0;             // probe packets owed after a PTO
  uint8_t ctrl_pending_ = 0;       // kCtrl* bits
  uint8_t ack_eliciting_unacked_ = 0;  // ack-eliciting packets received since our last ACK
  bool ack_now_ = false;
  bool ping_pending_ = false;
  bool paced_ = false;             // data waits for the pacer
  bool last_ack_now_ = false;      // the last ack-eliciting packet asked for an immediate ACK

  // Packet numbers and acknowledgements.
  uint64_t next_pn_ = 0;
  uint64_t largest_acked_ = ~uint64_t{0};     // by the peer, of ours
  uint64_t largest_received_ = ~uint64_t{0};  // of theirs
  uint64_t largest_received_time_ = 0;
  RangeSet<kMaxAckRanges> received_;          // their packet numbers, [lo, hi)
  uint64_t ack_deadline_ = 0;

  // Recovery (RFC 9002).
  Rtt rtt_;
  uint64_t loss_time_ = 0;
  uint64_t last_ack_eliciting_sent_ = 0;
  uint64_t recovery_start_ = 0;
  uint32_t cwnd_ = 0, ssthresh_ = ~uint32_t{0}, in_flight_ = 0;
  uint32_t pace_tokens_ = 0;
  uint64_t pace_time_ = 0;
  SentRing* ring_ = nullptr;
  uint16_t ring_head_ = 0, ring_count_ = 0;

  // Timers and liveness.
  uint64_t last_received_ = 0;
  uint64_t last_sent_ = 0;
  uint64_t close_deadline_ = 0;

  // Flow control (session level) and streams.
  uint64_t tx_max_data_ = kSessionWindow, tx_data_ = 0;  // peer's credit, new bytes we sent
  uint64_t rx_max_data_ = kSessionWindow, rx_data_ = 0, rx_consumed_ = 0;
  uint32_t local_opened_ = 0, peer_opened_ = 0;          // streams opened so far, each side
  uint32_t tx_max_streams_ = kStreamsPerSide;            // how many we may open (cumulative)
  uint32_t rx_max_streams_ = kStreamsPerSide;            // how many the peer may open
  uint8_t rr_ = 0;                                       // round-robin start for sending
  uint8_t stream_blocks_ = 0;                            // stream buffers held
  // Slots [0, 4) ours, [4, 8) the peer's; a record from the pool while the stream is open, null
  // when the slot is free (8 pointers instead of 8 records: most sessions have 1-2 streams open).
  Stream* streams_[kMaxStreams] = {};
  Address peer_;
  Stats stats_;
};

}  // namespace keel::control
