// The control-message codec: round trips, bounds, unknown types, every truncation and corruption.
#include <functional>

#include "harness.h"
#include "keel/control/messages.h"

namespace keel::control::test {
namespace {

Bytes str(const char* s) { return {reinterpret_cast<const uint8_t*>(s), std::strlen(s)}; }

// One encoded sample of every message type.
std::vector<Buf> samples() {
  std::vector<Buf> out;
  auto add = [&](Result<size_t, Error> r, const uint8_t* buf) {
    EXPECT_TRUE(r.ok());
    out.emplace_back(buf, buf + r.value_or(0));
  };
  uint8_t b[kMaxMessage + 8];
  Hello h;
  h.version = 1;
  std::memset(h.identity_key, 0x11, kKeyLen);
  h.capabilities = kCapConsole | kCapSerial;
  add(encode(h, b), b);
  Challenge c;
  std::memset(c.nonce, 0x22, kNonceLen);
  c.session_id = 0x0102030405060708;
  add(encode(c, b), b);
  AuthMsg a;
  std::memset(a.signature, 0x33, kSigLen);
  add(encode(a, b), b);
  add(encode_auth_ok(b), b);
  add(encode(AuthFail{Error::AuthFailed}, b), b);
  Status st;
  st.uptime_ms = 123456;
  st.release = str("demo-1.2.3");
  std::memset(st.manifest_hash, 0x44, kHashLen);
  st.count = 2;
  st.components[0] = {str("serial"), 1, 0, 64, 12};
  st.components[1] = {str("sensor"), 2, 3, 128, 1000};
  add(encode(st, b), b);
  Serial se;
  se.first_seq = 1000;
  se.dropped = 17;
  se.count = 2;
  se.lines[0] = str("[sensor] reading 42");
  se.lines[1] = str("");
  add(encode(se, b), b);
  Trace tr;
  tr.count = 2;
  tr.events[0] = {1, 2, 3, 4};
  tr.events[1] = {5, 6, 7, 8};
  add(encode(tr, b), b);
  add(encode(Command{77, kCmdRestartComponent, str("sensor")}, b), b);
  add(encode(CommandResult{77, Outcome::Done, str("restarted")}, b), b);
  add(encode_console(str("status\n"), b), b);
  add(encode(ProxyOpen{str("mqtt")}, b), b);
  add(encode_proxy_data(str("\x10\x0c\x00\x04MQTT"), b), b);
  add(encode(ProxyClose{1}, b), b);
  return out;
}

// Decodes a message of any type; returns its error or re-encodes it into `re`.
Result<void, Error> decode_any(Bytes in, Buf& re) {
  auto v = TRY(next_message(in));
  if (v.size == 0) return Err{Error::Truncated};
  if (v.size != in.size()) return Err{Error::BadMessage};
  uint8_t b[kMaxMessage + 8];
  Result<size_t, Error> n = Err{Error::Internal};
  switch (v.type) {
    case MsgType::Hello: { Hello m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::Challenge: { Challenge m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::Auth: { AuthMsg m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::AuthOk: TRY(decode_empty(v.body)); n = encode_auth_ok(b); break;
    case MsgType::AuthFail: { AuthFail m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::Status: { Status m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::Serial: { Serial m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::Trace: { Trace m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::Command: { Command m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::CommandResult: { CommandResult m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::Console: n = encode_console(TRY(decode_data(v.body)), b); break;
    case MsgType::ProxyOpen: { ProxyOpen m; TRY(decode(v.body, m)); n = encode(m, b); break; }
    case MsgType::ProxyData: n = encode_proxy_data(TRY(decode_data(v.body)), b); break;
    case MsgType::ProxyClose: { ProxyClose m; TRY(decode(v.body, m)); n = encode(m, b); break; }
  }
  if (!n.ok()) return Err{n.error()};
  re.assign(b, b + n.value());
  return {};
}

TEST(Messages, EveryTypeRoundTrips) {
  auto all = samples();
  ASSERT_EQ(all.size(), size_t(kLastMsgType));
  for (auto& m : all) {
    Buf re;
    ASSERT_TRUE(decode_any(m, re).ok()) << hex(m);
    EXPECT_EQ(re, m);
  }
}

TEST(Messages, FieldsSurviveTheRoundTrip) {
  auto all = samples();
  auto v = next_message(all[5]).value();
  Status st;
  ASSERT_TRUE(decode(v.body, st).ok());
  EXPECT_EQ(st.uptime_ms, 123456u);
  EXPECT_EQ(std::string(st.release.begin(), st.release.end()), "demo-1.2.3");
  ASSERT_EQ(st.count, 2);
  EXPECT_EQ(std::string(st.components[1].name.begin(), st.components[1].name.end()), "sensor");
  EXPECT_EQ(st.components[1].restarts, 3u);
  Serial se;
  ASSERT_TRUE(decode(next_message(all[6]).value().body, se).ok());
  EXPECT_EQ(se.first_seq, 1000u);
  EXPECT_EQ(se.dropped, 17u);
  Command cmd;
  ASSERT_TRUE(decode(next_message(all[8]).value().body, cmd).ok());
  EXPECT_EQ(cmd.id, 77u);
  EXPECT_EQ(cmd.kind, kCmdRestartComponent);
}

TEST(Messages, StreamOfMessagesIsCutAtBoundaries) {
  Buf stream;
  for (auto& m : samples()) stream.insert(stream.end(), m.begin(), m.end());
  size_t off = 0, count = 0;
  while (off < stream.size()) {
    auto v = next_message(Bytes(stream).subspan(off));
    ASSERT_TRUE(v.ok());
    ASSERT_GT(v.value().size, 0u);
    off += v.value().size;
    ++count;
  }
  EXPECT_EQ(count, size_t(kLastMsgType));
}

TEST(Messages, UnknownTypesAreRefused) {
  for (int t : {0x00, 0x0f, 0x10, 0x7f, 0xff}) {
    const uint8_t m[] = {0x00, 0x01, uint8_t(t)};
    EXPECT_EQ(next_message(m).error(), Error::UnknownMessage) << t;
  }
}

TEST(Messages, BadLengthsAreRefused) {
  const uint8_t zero[] = {0x00, 0x00, 0x01};
  EXPECT_EQ(next_message(zero).error(), Error::BadMessage);
  const uint8_t huge[] = {0x10, 0x01, 0x0b};
  EXPECT_EQ(next_message(huge).error(), Error::MessageTooLarge);
  uint8_t b[kMaxMessage + 8];
  Buf big(kMaxMessage, 'x');
  EXPECT_EQ(encode_console(big, b).error(), Error::BadMessage);
  EXPECT_EQ(encode_console(Bytes(big).first(kMaxMessage - 1), b).value_or(0), kMaxMessage + 2);
  uint8_t small[8];
  EXPECT_EQ(encode_console(Bytes(big).first(10), small).error(), Error::BufferTooSmall);
}

TEST(Messages, BoundsAreEnforcedBothWays) {
  uint8_t b[kMaxMessage + 8];
  Status st;
  st.count = kMaxComponents + 1;
  EXPECT_EQ(encode(st, b).error(), Error::BadMessage);
  EXPECT_EQ(encode(ProxyOpen{str("MQTT")}, b).error(), Error::BadMessage);  // upper case
  EXPECT_EQ(encode(ProxyOpen{str("")}, b).error(), Error::BadMessage);
  EXPECT_EQ(encode(Command{0, 1, {}}, b).error(), Error::BadMessage);       // id 0 is no id
  // A STATUS claiming 33 components.
  const uint8_t bad_status[] = {0, 44, 6, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 33};
  auto v = next_message(bad_status);
  ASSERT_TRUE(v.ok());
  Status out;
  EXPECT_EQ(decode(v.value().body, out).error(), Error::BadMessage);
  // Trailing bytes after a complete body.
  const uint8_t trailing[] = {0, 3, 0x0e, 0, 0};
  ProxyClose pc;
  EXPECT_EQ(decode(next_message(trailing).value().body, pc).error(), Error::BadMessage);
}

TEST(Messages, EveryTruncationIsIncompleteOrRefused) {
  for (auto& m : samples()) {
    for (size_t n = 0; n < m.size(); ++n) {
      auto v = next_message(Bytes(m).first(n));
      ASSERT_TRUE(v.ok());
      EXPECT_EQ(v.value().size, 0u) << "prefix " << n << " of " << hex(m);
      // The same prefix with its length rewritten to fit (a peer lying about the body) is refused
      // by the body's decoder, never read past.
      if (n >= kMessageHeader + 1) {
        Buf lie(m.begin(), m.begin() + long(n));
        lie[0] = uint8_t((n - 2) >> 8);
        lie[1] = uint8_t(n - 2);
        Buf re;
        auto r = decode_any(lie, re);
        if (r.ok()) {
          EXPECT_EQ(re, lie);  // some bodies are variable (CONSOLE): then canonical
        }
      }
    }
  }
}

TEST(Messages, EveryCorruptedByteIsRefusedOrCanonical) {
  for (auto& m : samples()) {
    for (size_t i = 0; i < m.size(); ++i) {
      for (uint8_t x : {0x01, 0x80, 0xff}) {
        Buf c = m;
        c[i] ^= x;
        Buf re;
        auto r = decode_any(c, re);
        // Accepted only if it means exactly the corrupted bytes (no byte is ever ignored).
        if (r.ok()) {
          EXPECT_EQ(re, c) << "position " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace keel::control::test
