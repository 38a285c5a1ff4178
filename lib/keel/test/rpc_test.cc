// The generic marshalling of keel/sys/rpc.hh over every request of keel/sys/sessions.hh: request
// words and reply words round-trip through encode/decode (serve on the server side), variable-
// length arguments are bounded, and a reply label maps to the right keel_error_t.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "keel/sys/sessions.hh"

namespace rpc = keel::rpc;
using rpc::Word;

namespace {

// The server side of one request: decodes mr[0, len) with R's types, runs h, encodes the reply.
template <class R, class H>
rpc::Answer serve(Word* mr, size_t len, H&& h) {
  return rpc::serve<R>(mr, len, static_cast<H&&>(h));
}

TEST(Rpc, ClockTimeoutRoundTrip) {
  Word mr[KEEL_MSG_MAX_LENGTH] = {};
  const size_t n = rpc::encode_args<rpc::clock::Timeout>(mr, uint32_t{3}, uint64_t{1000}, uint64_t{50});
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(mr[0], 3u);
  EXPECT_EQ(mr[1], 1000u);
  EXPECT_EQ(mr[2], 50u);
  uint32_t id = 0;
  uint64_t deadline = 0, period = 0;
  const auto a = serve<rpc::clock::Timeout>(mr, n, [&](uint32_t i, uint64_t d, uint64_t p) {
    id = i, deadline = d, period = p;
    return keel::check(KEEL_OK);
  });
  EXPECT_EQ(a.label, Word{KEEL_OK});
  EXPECT_EQ(a.len, 0u);
  EXPECT_EQ(id, 3u);
  EXPECT_EQ(deadline, 1000u);
  EXPECT_EQ(period, 50u);
  EXPECT_TRUE(rpc::decode_reply<rpc::clock::Timeout>(a.label, mr, a.len).ok());
}

TEST(Rpc, MissingOrOutOfRangeWordIsInvalidArgument) {
  Word mr[KEEL_MSG_MAX_LENGTH] = {3, 1000};
  bool called = false;
  auto h = [&](uint32_t, uint64_t, uint64_t) {
    called = true;
    return keel::check(KEEL_OK);
  };
  EXPECT_EQ(serve<rpc::clock::Timeout>(mr, 2, h).label, Word{KEEL_INVALID_ARGUMENT});
  mr[0] = Word{1} << 32;  // does not fit the declared uint32_t
  EXPECT_EQ(serve<rpc::clock::Timeout>(mr, 3, h).label, Word{KEEL_INVALID_ARGUMENT});
  EXPECT_FALSE(called);
}

TEST(Rpc, HandlerErrorIsTheReplyLabel) {
  Word mr[KEEL_MSG_MAX_LENGTH] = {};
  const auto a = serve<rpc::sched::SetBudget>(mr, 2, [](uint64_t, uint64_t) { return keel::check(KEEL_RANGE_ERROR); });
  EXPECT_EQ(a.label, Word{KEEL_RANGE_ERROR});
  const auto r = rpc::decode_reply<rpc::sched::SetBudget>(a.label, mr, a.len);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), KEEL_RANGE_ERROR);
}

TEST(Rpc, BadReplyLabelIsProtocolError) {
  Word mr[KEEL_MSG_MAX_LENGTH] = {};
  const auto r = rpc::decode_reply<rpc::clock::Wall>(0xfffffu, mr, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), KEEL_PROTOCOL_ERROR);
  const auto d = rpc::decode_reply<rpc::clock::Wall>(KEEL_DENIED, mr, 0);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error(), KEEL_DENIED);
  // KEEL_OK with a reply shorter than declared.
  const auto s = rpc::decode_reply<rpc::clock::Wall>(KEEL_OK, mr, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), KEEL_PROTOCOL_ERROR);
}

TEST(Rpc, SingleWordReplies) {
  Word mr[KEEL_MSG_MAX_LENGTH] = {};
  auto a = serve<rpc::clock::Wall>(mr, 0, []() -> keel::Result<uint64_t> { return uint64_t{1234567}; });
  EXPECT_EQ(a.len, 1u);
  EXPECT_EQ(rpc::decode_reply<rpc::clock::Wall>(a.label, mr, a.len).value(), 1234567u);
  a = serve<rpc::clock::Expired>(mr, 0, []() -> keel::Result<uint64_t> { return uint64_t{0x8001}; });
  EXPECT_EQ(rpc::decode_reply<rpc::clock::Expired>(a.label, mr, a.len).value(), 0x8001u);
  a = serve<rpc::root::SetBudget>(mr, 3, [](uint32_t, uint32_t b, uint32_t) -> keel::Result<uint32_t> { return b; });
  EXPECT_EQ(a.len, 0u + 1u);
  (void)rpc::encode_args<rpc::root::SetBudget>(mr, uint32_t{2}, uint32_t{500}, uint32_t{1000});
  a = serve<rpc::root::SetBudget>(mr, 3, [](uint32_t c, uint32_t b, uint32_t p) -> keel::Result<uint32_t> {
    EXPECT_EQ(c, 2u);
    EXPECT_EQ(p, 1000u);
    return b;
  });
  EXPECT_EQ(rpc::decode_reply<rpc::root::SetBudget>(a.label, mr, a.len).value(), 500u);
}

TEST(Rpc, MultiWordReplies) {
  Word mr[KEEL_MSG_MAX_LENGTH] = {7};
  const auto a = serve<rpc::sched::Usage>(mr, 1, [](uint64_t c) -> keel::Result<rpc::sched::Usage::Value> {
    rpc::sched::Usage::Value v;
    v.get<0>() = 100 * c;
    v.get<1>() = 500;
    v.get<2>() = 1000;
    v.get<3>() = 900;
    return v;
  });
  EXPECT_EQ(a.len, 4u);
  auto [used, budget, period, manifest] = rpc::decode_reply<rpc::sched::Usage>(a.label, mr, a.len).value();
  EXPECT_EQ(used, 700u);
  EXPECT_EQ(budget, 500u);
  EXPECT_EQ(period, 1000u);
  EXPECT_EQ(manifest, 900u);

  mr[0] = 1;
  mr[1] = 0x61;  // "a"
  const auto d = serve<rpc::msg::Open>(mr, 2, [](rpc::Bytes<8 * (KEEL_MSG_MAX_LENGTH - 1)> name)
                                                  -> keel::Result<rpc::msg::Open::Value> {
    rpc::msg::Open::Value v;
    v.get<0>() = 32;
    v.get<1>() = name.len;
    v.get<2>() = 1ull << 33;
    return v;
  });
  ASSERT_EQ(d.label, Word{KEEL_OK});
  auto [slot, kind, bits] = rpc::decode_reply<rpc::msg::Open>(d.label, mr, d.len).value();
  EXPECT_EQ(slot, 32u);
  EXPECT_EQ(kind, 1u);
  EXPECT_EQ(bits, 1ull << 33);
}

TEST(Rpc, BytesRoundTripAndBounds) {
  Word mr[KEEL_MSG_MAX_LENGTH];
  std::memset(mr, 0xff, sizeof mr);
  const std::string line = "hello, typed world\n";  // 19 bytes: 3 words, the last zero-padded
  const size_t n = rpc::encode_args<rpc::serial::Write>(mr, rpc::serial::Text{line.data(), line.size()});
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(mr[0], line.size());
  EXPECT_EQ(mr[3] >> 24, 0u);  // padding bytes are 0
  std::string got;
  auto a = serve<rpc::serial::Write>(mr, n, [&](rpc::serial::Text t) -> keel::Result<uint64_t> {
    got.assign(t.data, t.len);
    return uint64_t{t.len};
  });
  EXPECT_EQ(got, line);
  EXPECT_EQ(rpc::decode_reply<rpc::serial::Write>(a.label, mr, a.len).value(), line.size());

  // Longer than the declared max, or longer than the words sent: refused.
  mr[0] = KEEL_SERIAL_MAX_WRITE + 1;
  a = serve<rpc::serial::Write>(mr, KEEL_MSG_MAX_LENGTH, [](rpc::serial::Text) -> keel::Result<uint64_t> { return 0; });
  EXPECT_EQ(a.label, Word{KEEL_INVALID_ARGUMENT});
  mr[0] = 17;
  a = serve<rpc::serial::Write>(mr, 3, [](rpc::serial::Text) -> keel::Result<uint64_t> { return 0; });
  EXPECT_EQ(a.label, Word{KEEL_INVALID_ARGUMENT});
  mr[0] = KEEL_SERIAL_MAX_WRITE;  // the max fits: 1 + 118 words
  a = serve<rpc::serial::Write>(mr, 1 + KEEL_SERIAL_MAX_WRITE / 8,
                                [](rpc::serial::Text t) -> keel::Result<uint64_t> { return uint64_t{t.len}; });
  EXPECT_EQ(a.label, Word{KEEL_OK});
  // Words after the last argument: refused, the handler not called (nothing hides in a message).
  mr[0] = 5;  // 5 bytes: the length word and one word of bytes
  bool called = false;
  a = serve<rpc::serial::Write>(mr, 3, [&](rpc::serial::Text) -> keel::Result<uint64_t> {
    called = true;
    return 0;
  });
  EXPECT_EQ(a.label, Word{KEEL_INVALID_ARGUMENT});
  EXPECT_FALSE(called);
  a = serve<rpc::clock::Expired>(mr, 1, [&]() -> keel::Result<uint64_t> { return 0; });
  EXPECT_EQ(a.label, Word{KEEL_INVALID_ARGUMENT});
  // A caller's oversized Bytes is cut at the declared max, never written past the registers.
  std::vector<char> big(2000, 'z');
  Word guard[KEEL_MSG_MAX_LENGTH + 8];
  std::memset(guard, 0xab, sizeof guard);
  EXPECT_EQ((rpc::encode_args<rpc::msg::Open>(guard, rpc::msg::Name{big.data(), big.size()})), size_t{KEEL_MSG_MAX_LENGTH});
  EXPECT_EQ(guard[0], rpc::msg::Name::kMax);
  EXPECT_EQ(guard[KEEL_MSG_MAX_LENGTH], 0xababababababababull);

  // Names: root Device request and the Status reply's name.
  const char dev[] = "uart0";
  EXPECT_EQ((rpc::encode_args<rpc::root::Device>(mr, rpc::root::Name{dev, 5})), 2u);
  mr[0] = 65;
  EXPECT_EQ((serve<rpc::root::Device>(mr, 10, [](rpc::root::Name) -> keel::Result<rpc::root::Device::Value> {
               return rpc::root::Device::Value{};
             }).label),
            Word{KEEL_INVALID_ARGUMENT});
  rpc::root::Status::Value st;
  st.get<0>() = KEEL_STATE_RUNNING;
  st.get<1>() = 2;
  st.get<2>() = 4096;
  st.get<3>() = 3;
  st.get<4>() = 0;
  st.get<5>() = rpc::Bytes<63>{"echo", 4};
  const size_t len = rpc::encode_reply<rpc::root::Status>(mr, st);
  EXPECT_EQ(len, 7u);
  auto [state, restarts, memory, generation, fault, name] = rpc::decode_reply<rpc::root::Status>(KEEL_OK, mr, len).value();
  EXPECT_EQ(state, uint32_t{KEEL_STATE_RUNNING});
  EXPECT_EQ(restarts, 2u);
  EXPECT_EQ(memory, 4096u);
  EXPECT_EQ(generation, 3u);
  EXPECT_EQ(fault, 0u);
  EXPECT_EQ(std::string(name.data, name.len), "echo");
}

TEST(Rpc, ExitAndReadArgs) {
  Word mr[KEEL_MSG_MAX_LENGTH] = {};
  EXPECT_EQ(rpc::encode_args<rpc::root::Exit>(mr, int64_t{-1}), 1u);
  EXPECT_EQ(mr[0], ~Word{0});
  EXPECT_EQ(rpc::encode_args<rpc::serial::Read>(mr), 0u);
  static_assert(rpc::serial::Write::ArgList::kMaxWords == 1 + KEEL_SERIAL_MAX_WRITE / 8);
  static_assert(rpc::msg::Open::ArgList::kMaxWords == KEEL_MSG_MAX_LENGTH);
}

}  // namespace

namespace {

// The mirror and trace requests: MirrorRead's reply (first, dropped, bytes) and TraceRead's
// (dropped, count + 2 words per event, the layout of keel_trace_event_t) round-trip; a count
// beyond the words sent or beyond the maximum is a protocol error; Trace's u16 event is checked.
TEST(Rpc, MirrorAndTraceReplies) {
  Word mr[KEEL_MSG_MAX_LENGTH] = {};
  const auto a = serve<rpc::serial::MirrorRead>(mr, 0, []() -> keel::Result<rpc::serial::MirrorRead::Value> {
    rpc::serial::MirrorRead::Value v;
    v.get<0>() = 41;
    v.get<1>() = 3;
    v.get<2>() = rpc::serial::MirrorText{"[a] x\n[b] y", 11};
    return v;
  });
  EXPECT_EQ(a.label, Word{KEEL_OK});
  EXPECT_EQ(a.len, 3u + 2u);
  auto m = rpc::decode_reply<rpc::serial::MirrorRead>(a.label, mr, a.len);
  ASSERT_TRUE(m.ok());
  const auto& [first, dropped, text] = m.value();
  EXPECT_EQ(first, 41u);
  EXPECT_EQ(dropped, 3u);
  EXPECT_EQ(std::string(text.data, text.len), "[a] x\n[b] y");

  rpc::serial::TraceEvent ev[KEEL_SERIAL_TRACE_READ_MAX] = {};
  for (uint32_t i = 0; i < KEEL_SERIAL_TRACE_READ_MAX; ++i) ev[i] = {1000u + i, 7, static_cast<uint16_t>(i), 0xdead0000u + i};
  const auto b = serve<rpc::serial::TraceRead>(mr, 0, [&]() -> keel::Result<rpc::serial::TraceRead::Value> {
    rpc::serial::TraceRead::Value v;
    v.get<0>() = 5;
    v.get<1>() = rpc::serial::TraceEvents{ev, KEEL_SERIAL_TRACE_READ_MAX};
    return v;
  });
  EXPECT_EQ(b.len, 2u + 2u * KEEL_SERIAL_TRACE_READ_MAX);
  EXPECT_LE(b.len, size_t{KEEL_MSG_MAX_LENGTH});
  EXPECT_EQ(mr[2], 1000u);                                              // time of event 0
  EXPECT_EQ(mr[3], 7u | (Word{0} << 16) | (Word{0xdead0000u} << 32));  // component | event | argument
  auto t = rpc::decode_reply<rpc::serial::TraceRead>(b.label, mr, b.len);
  ASSERT_TRUE(t.ok());
  const auto& [lost, events] = t.value();
  EXPECT_EQ(lost, 5u);
  ASSERT_EQ(events.count, size_t{KEEL_SERIAL_TRACE_READ_MAX});
  EXPECT_EQ(events.data[58].time_ns, 1058u);
  EXPECT_EQ(events.data[58].event, 58u);
  EXPECT_EQ(events.data[58].argument, 0xdead0000u + 58);
  // A count the words do not carry, or over the maximum: refused.
  EXPECT_FALSE(rpc::decode_reply<rpc::serial::TraceRead>(b.label, mr, b.len - 1).ok());
  mr[1] = KEEL_SERIAL_TRACE_READ_MAX + 1;
  EXPECT_FALSE(rpc::decode_reply<rpc::serial::TraceRead>(b.label, mr, KEEL_MSG_MAX_LENGTH).ok());

  // Trace: event u16, argument u32.
  Word req[KEEL_MSG_MAX_LENGTH] = {0x10000, 1};
  bool called = false;
  auto h = [&](uint16_t, uint32_t) {
    called = true;
    return keel::check(KEEL_OK);
  };
  EXPECT_EQ(serve<rpc::serial::Trace>(req, 2, h).label, Word{KEEL_INVALID_ARGUMENT});
  EXPECT_FALSE(called);
  req[0] = 0xffff;
  EXPECT_EQ(serve<rpc::serial::Trace>(req, 2, h).label, Word{KEEL_OK});
  EXPECT_TRUE(called);
}

}  // namespace
