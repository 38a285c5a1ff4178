// libFuzzer target for the control protocol's parsers and receive path. Every input is a script
// of datagrams for one server session (Fleet's side, the one facing hostile devices):
//   [u16 length][datagram] ...   each datagram goes to Session::receive, the session's output is
//                                drained with poll_send and its timers run with a moving clock;
// and, independently, the whole input is cut into control messages with next_message and every
// message is decoded by the decoder of its type. A prefix byte of each datagram (the high bit of
// its length) selects whether the session id is overwritten with the session's own, so mutations
// get past the session-id check.
//
// Seeds: run with CONTROL_FUZZ_WRITE_SEEDS=<dir> and the binary writes a seed corpus (a client's
// first packet with HELLO, an ACK with ranges and data, every control frame, a message stream)
// and exits; the build does that after linking. Invariants: no crash, no sanitizer report, no
// block leaked from the pool once the session is destroyed, the session's blocks never exceed
// 1 + 2 * kMaxStreams.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "keel/control/messages.h"
#include "keel/control/session.h"

using namespace keel::control;

namespace {

constexpr uint64_t kSid = 0x1122334455667788ull;

struct StepClock final : Clock {
  uint64_t now = 1000 * kSec;
  uint64_t now_ns() override { return now; }
};

void decode_messages(Bytes in) {
  size_t off = 0;
  while (off < in.size()) {
    auto v = next_message(in.subspan(off));
    if (!v.ok() || v.value().size == 0) return;
    const MessageView m = v.value();
    switch (m.type) {
      case MsgType::Hello: { Hello x; (void)decode(m.body, x); break; }
      case MsgType::Challenge: { Challenge x; (void)decode(m.body, x); break; }
      case MsgType::Auth: { AuthMsg x; (void)decode(m.body, x); break; }
      case MsgType::AuthOk: (void)decode_empty(m.body); break;
      case MsgType::AuthFail: { AuthFail x; (void)decode(m.body, x); break; }
      case MsgType::Status: { Status x; (void)decode(m.body, x); break; }
      case MsgType::Serial: { Serial x; (void)decode(m.body, x); break; }
      case MsgType::Trace: { Trace x; (void)decode(m.body, x); break; }
      case MsgType::Command: { Command x; (void)decode(m.body, x); break; }
      case MsgType::CommandResult: { CommandResult x; (void)decode(m.body, x); break; }
      case MsgType::Console:
      case MsgType::ProxyData: (void)decode_data(m.body); break;
      case MsgType::ProxyOpen: { ProxyOpen x; (void)decode(m.body, x); break; }
      case MsgType::ProxyClose: { ProxyClose x; (void)decode(m.body, x); break; }
    }
    off += m.size;
  }
}

void append(std::string& s, const uint8_t* p, size_t n, bool fix_sid) {
  const uint16_t len = uint16_t(n | (fix_sid ? 0x8000 : 0));
  s += char(len >> 8);
  s += char(len & 0xff);
  s.append(reinterpret_cast<const char*>(p), n);
}

void write_seeds(const char* dir) {
  std::string seeds[4];
  uint8_t b[2048];
  // 1: a client's first packet with HELLO, then more data on the same stream.
  {
    StepClock clock;
    FixedBlockPool<8> pool;
    Context ctx{clock, pool};
    Session c(ctx, Role::Client, kSid);
    const uint64_t id = c.open_stream().value();
    Hello h;
    h.version = 1;
    uint8_t m[64];
    const size_t n = encode(h, m).value();
    (void)c.write(id, {m, n});
    size_t k = c.poll_send(b);
    append(seeds[0], b, k, false);
    uint8_t big[3000];
    std::memset(big, 'x', sizeof big);
    (void)c.write(id, {big, sizeof big}, true);
    while ((k = c.poll_send(b))) append(seeds[0], b, k, false);
  }
  // 2: ACK with ranges + STREAM with FIN; 3: every control frame.
  {
    Writer w(b);
    uint8_t* len = write_header(w, kSid, true, kVersion, 3, 1);
    Frame f;
    f.type = FrameType::Ack, f.range_count = 2, f.ranges[0] = {0, 0}, f.ranges[1] = {0, 0};
    f.range_count = 1;
    write_frame(w, f);
    f = {};
    f.type = FrameType::Stream, f.stream_id = 0, f.offset = 0, f.fin = true;
    const uint8_t d[] = "\x00\x05\x0bhello";
    f.data = {d, 8};
    write_frame(w, f);
    finish_packet(w, len);
    append(seeds[1], b, w.size(), false);
  }
  {
    Writer w(b);
    uint8_t* len = write_header(w, kSid, true, kVersion, 0, 2);
    Frame f;
    for (FrameType t : {FrameType::Ping, FrameType::MaxData, FrameType::MaxStreamData, FrameType::MaxStreams,
                        FrameType::StopSending, FrameType::ResetStream, FrameType::Close}) {
      f = {};
      f.type = t, f.stream_id = 0, f.value = 100, f.code = 1;
      write_frame(w, f);
    }
    finish_packet(w, len);
    append(seeds[2], b, w.size(), false);
  }
  // 4: a stream of messages (the message decoders read the whole input too).
  {
    uint8_t m[256];
    Command c{7, kCmdRestartComponent, {reinterpret_cast<const uint8_t*>("sensor"), 6}};
    size_t n = encode(c, m).value();
    seeds[3].append(reinterpret_cast<char*>(m), n);
    Serial s;
    s.first_seq = 1, s.count = 1, s.lines[0] = {reinterpret_cast<const uint8_t*>("line"), 4};
    n = encode(s, m).value();
    seeds[3].append(reinterpret_cast<char*>(m), n);
  }
  for (int i = 0; i < 4; ++i) {
    const std::string path = std::string(dir) + "/seed" + std::to_string(i);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::exit(1);
    std::fwrite(seeds[i].data(), 1, seeds[i].size(), f);
    std::fclose(f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("CONTROL_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decode_messages({data, size});
  StepClock clock;
  static FixedBlockPool<1 + 2 * kMaxStreams> pool;
  Context ctx{clock, pool};
  {
    Session s(ctx, Role::Server, kSid);
    Address from;
    from.family = 4;
    size_t off = 0;
    uint8_t buf[2048];
    uint8_t out[2048];
    while (off + 2 <= size) {
      const uint16_t raw = uint16_t(data[off] << 8 | data[off + 1]);
      off += 2;
      size_t n = raw & 0x7fff;
      if (n > size - off) n = size - off;
      if (n > sizeof buf) n = sizeof buf;
      std::memcpy(buf, data + off, n);
      off += n;
      if ((raw & 0x8000) && n >= 9)
        for (int i = 0; i < 8; ++i) buf[1 + i] = uint8_t(kSid >> (56 - 8 * i));
      from.port = uint16_t(off);  // a roaming peer now and then
      (void)s.receive({buf, n}, from);
      // The application reads what arrived and answers a little.
      for (auto id = s.accept_stream(); id.ok(); id = s.accept_stream()) (void)s.write(id.value(), {buf, n > 100 ? 100 : n});
      for (uint64_t id = 0; id < 16; ++id) {
        bool fin;
        (void)s.read(id, {out, sizeof out}, fin);
      }
      for (int k = 0; k < 64 && s.poll_send(out); ++k) {
      }
      clock.now += 7 * kMs;
      if (s.next_deadline() && s.next_deadline() <= clock.now) s.tick();
      if (pool.in_use() > 1 + 2 * kMaxStreams) __builtin_trap();
    }
  }
  if (pool.in_use() != 0) __builtin_trap();  // every block back once the session is gone
  if (pool.streams_in_use() != 0) __builtin_trap();  // and every stream record
  return 0;
}
