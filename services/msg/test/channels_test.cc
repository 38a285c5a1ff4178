// Unit tests of the message server's policy and bookkeeping (services/msg/src/channels.cc):
// end ordering and notify indices, open decisions and the capability operations they need,
// change detection on the system page, teardown sets, request decoding and the denial log line.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "keel/bootspec/reader.h"
#include "keel/bootspec/writer.h"
#include "keel/msg/channels.h"
#include "keel/sys/sessions.hh"

using namespace keel::bootspec;
using keel::msg::CapOp;
using keel::msg::Channels;
using keel::msg::ComponentState;
using keel::msg::Source;

namespace {

Model::Component comp(const std::string& name, std::uint8_t prio) {
  Model::Component c;
  c.name = name;
  c.image = name + ".elf";
  c.priority = prio;
  c.budget_us = 1000;
  c.period_us = 100000;
  c.stack_size = 16384;
  return c;
}

Model base_model(std::uint32_t ncomp) {
  Model m;
  m.name = "t";
  m.version = "1";
  m.platform = "qemu-virt";
  m.ram_base = 0x40000000;
  m.ram_size = 512ull << 20;
  m.memory = 64ull << 20;
  m.groups.push_back({"top", kNone, Strategy::kOneForOne, 3, 5});
  for (std::uint32_t i = 0; i < ncomp; ++i) m.components.push_back(comp("c" + std::to_string(i), 100));
  return m;
}

// The system used by most tests:
//   0 server, 1 client, 2 waiter, 3 producer
//   ch0 "calc"   rpc    client(1).call  -> server(0).serve
//   ch1 "tick"   event  server(0).tick  -> waiter(2).tick
//   ch2 "data"   stream producer(3).out -> waiter(2).in
//   ch3 "back"   event  waiter(2).done  -> producer(3).done
//   ch4 "calc2"  rpc    waiter(2).call  -> server(0).serve2
Model sample() {
  Model m = base_model(0);
  m.components = {comp("server", 150), comp("client", 100), comp("waiter", 100), comp("producer", 100)};
  m.channels.push_back({"calc", ChannelKind::kRpc, 1, 0, "call", "serve", 0});
  m.channels.push_back({"tick", ChannelKind::kEvent, 0, 2, "tick", "tick", 0});
  m.channels.push_back({"data", ChannelKind::kStream, 3, 2, "out", "in", 8192});
  m.channels.push_back({"back", ChannelKind::kEvent, 2, 3, "done", "done", 0});
  m.channels.push_back({"calc2", ChannelKind::kRpc, 2, 0, "call", "serve2", 0});
  return m;
}

// A parsed spec and a Channels over it (both heap-held: Channels is large and the spec must stay put).
struct Fixture {
  explicit Fixture(const Model& m, bool restarted = false, std::uint32_t running = 0xffffffffu) {
    bytes = write(m);
    words.resize(bytes.size() / 8 + 1);
    std::memcpy(words.data(), bytes.data(), bytes.size());
    auto r = Spec::parse(words.data(), bytes.size());
    EXPECT_TRUE(r.ok());
    spec = std::make_unique<Spec>(r.value());
    for (std::uint32_t i = 0; i < KEEL_MAX_COMPONENTS; ++i)
      now[i] = ComponentState{1, i < 32 && ((running >> i) & 1) ? KEEL_STATE_RUNNING : KEEL_STATE_NOT_STARTED};
    ch = std::make_unique<Channels>();
    auto b = ch->init(*spec, now, restarted);
    ok = b.ok();
    if (!ok) failure = b.error();
  }
  keel::msg::OpenResult open(std::uint32_t c, const char* name) { return ch->open(c, name, std::strlen(name), now); }
  // open + commit as the server does when every op succeeds.
  keel::msg::OpenResult open_ok(std::uint32_t c, const char* name) {
    auto r = open(c, name);
    ch->commit_open(c, r, true);
    return r;
  }
  std::vector<CapOp> teardown(std::uint32_t x) {
    CapOp ops[keel::msg::kMaxTeardownOps];
    std::uint32_t n = ch->teardown(x, now, ops, keel::msg::kMaxTeardownOps);
    return std::vector<CapOp>(ops, ops + n);
  }
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint64_t> words;
  std::unique_ptr<Spec> spec;
  std::unique_ptr<Channels> ch;
  ComponentState now[KEEL_MAX_COMPONENTS];
  bool ok = false;
  keel::msg::BuildFailure failure{};
};

CapOp del(std::uint32_t cnode, std::uint32_t slot) { return CapOp{CapOp::kDelete, Source::kEndpoint, cnode, slot, 0, 0, 0}; }
CapOp cancel(std::uint32_t cnode, std::uint32_t slot) {
  return CapOp{CapOp::kCancelBadgedSends, Source::kEndpoint, cnode, slot, 0, 0, 0};
}

TEST(MsgChannels, EndOrderFollowsTheChannelsTable) {
  Fixture f(sample());
  ASSERT_TRUE(f.ok);
  const Channels& c = *f.ch;
  // server: calc (TO), tick (FROM), calc2 (TO)
  ASSERT_EQ(c.end_count(0), 3u);
  EXPECT_EQ(c.end(0, 0).channel, 0u);
  EXPECT_EQ(c.end(0, 0).role, KEEL_ROLE_TO);
  EXPECT_EQ(c.end(0, 1).channel, 1u);
  EXPECT_EQ(c.end(0, 1).role, KEEL_ROLE_FROM);
  EXPECT_EQ(c.end(0, 2).channel, 4u);
  // waiter: tick (TO, j0), data (TO, j1), back (FROM, no bit), calc2 (FROM, no bit)
  ASSERT_EQ(c.end_count(2), 4u);
  EXPECT_EQ(c.end(2, 0).notify, 0u);
  EXPECT_EQ(c.end(2, 1).notify, 1u);
  EXPECT_EQ(c.end(2, 2).notify, keel::msg::kNoNotify);
  EXPECT_EQ(c.end(2, 3).notify, keel::msg::kNoNotify);
  // producer: data (FROM, stream: j0), back (TO, j1)
  ASSERT_EQ(c.end_count(3), 2u);
  EXPECT_EQ(c.end(3, 0).notify, 0u);
  EXPECT_EQ(c.end(3, 1).notify, 1u);
  // client: only calc
  ASSERT_EQ(c.end_count(1), 1u);
  // peer_end points back.
  for (std::uint32_t x = 0; x < 4; ++x)
    for (std::uint32_t k = 0; k < c.end_count(x); ++k) {
      const auto& e = c.end(x, k);
      const auto& p = c.end(e.peer, e.peer_end);
      EXPECT_EQ(p.channel, e.channel);
      EXPECT_EQ(p.peer, x);
      EXPECT_EQ(p.peer_end, k);
      EXPECT_NE(p.role, e.role);
    }
}

TEST(MsgChannels, UndeclaredChannelIsDenied) {
  Fixture f(sample());
  EXPECT_EQ(f.open(1, "nope").status, KEEL_DENIED);
  // A channel that exists but has other ends.
  EXPECT_EQ(f.open(1, "tick").status, KEEL_DENIED);
  EXPECT_EQ(f.open(3, "calc").status, KEEL_DENIED);
  // Prefixes and longer names do not match.
  EXPECT_EQ(f.open(1, "cal").status, KEEL_DENIED);
  EXPECT_EQ(f.open(1, "calcx").status, KEEL_DENIED);
  EXPECT_EQ(f.ch->find(1, "calc", 4), 0);
  EXPECT_EQ(f.ch->open(1, "calc", 0, f.now).status, KEEL_INVALID_ARGUMENT);
  EXPECT_EQ(f.ch->open(99, "calc", 4, f.now).status, KEEL_INVALID_ARGUMENT);
}

TEST(MsgChannels, RpcClientNeedsAServingServer) {
  Fixture f(sample());
  auto r = f.open(1, "calc");
  EXPECT_EQ(r.status, KEEL_CHANNEL_DOWN);
  EXPECT_EQ(r.op_count, 0u);
  auto s = f.open_ok(0, "calc");
  EXPECT_EQ(s.status, KEEL_OK);
  EXPECT_EQ(s.slot, 0u);
  EXPECT_EQ(s.kind, KEEL_CHANNEL_RPC);
  EXPECT_EQ(s.mr2, 0x1000u + 0);  // server end 0
  EXPECT_EQ(s.op_count, 0u);
  EXPECT_TRUE(f.ch->serving(0));
  r = f.open_ok(1, "calc");
  ASSERT_EQ(r.status, KEEL_OK);
  EXPECT_EQ(r.slot, KEEL_SLOT_CHANNEL_BASE + 0u);
  ASSERT_EQ(r.op_count, 2u);
  EXPECT_EQ(r.ops[0], del(1, 32));
  EXPECT_EQ(r.ops[1], (CapOp{CapOp::kMint, Source::kEndpoint, 1, 32, 0, KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY, 0x1000}));
  EXPECT_TRUE(f.ch->cap_out(0, KEEL_ROLE_FROM));
  // The second rpc channel of the same server arrives with the badge of server end 2.
  f.open_ok(0, "calc2");
  r = f.open(2, "calc2");
  ASSERT_EQ(r.status, KEEL_OK);
  EXPECT_EQ(r.slot, KEEL_SLOT_CHANNEL_BASE + 2 * 3u);  // waiter's end 3
  EXPECT_EQ(r.ops[1].badge, 0x1000u + 2);
}

TEST(MsgChannels, EventSignallerGetsTheWaitersBit) {
  Fixture f(sample());
  auto w = f.open_ok(2, "tick");
  EXPECT_EQ(w.status, KEEL_OK);
  EXPECT_EQ(w.slot, 0u);
  EXPECT_EQ(w.mr2, 1ull << 32);
  auto s = f.open_ok(0, "tick");
  ASSERT_EQ(s.status, KEEL_OK);
  EXPECT_EQ(s.slot, KEEL_SLOT_CHANNEL_BASE + 2u);  // server's end 1
  EXPECT_EQ(s.mr2, 0u);
  EXPECT_EQ(s.ops[1], (CapOp{CapOp::kMint, Source::kNotification, 0, 34, 2, KEEL_RIGHT_WRITE, 1ull << 32}));
  // back: waiter signals producer's end 1 -> producer bit 33.
  auto b = f.open(2, "back");
  EXPECT_EQ(b.ops[1].badge, 1ull << 33);
  EXPECT_EQ(b.ops[1].source_component, 3u);
}

TEST(MsgChannels, StreamSidesSignalEachOther) {
  Fixture f(sample());
  auto p = f.open_ok(3, "data");
  ASSERT_EQ(p.status, KEEL_OK);
  EXPECT_EQ(p.slot, 32u);
  EXPECT_EQ(p.mr2, 1ull << 32);  // producer's own j = 0
  EXPECT_EQ(p.ops[1], (CapOp{CapOp::kMint, Source::kNotification, 3, 32, 2, KEEL_RIGHT_WRITE, 1ull << 33}));
  auto c = f.open_ok(2, "data");
  ASSERT_EQ(c.status, KEEL_OK);
  EXPECT_EQ(c.slot, 34u);         // waiter's end 1
  EXPECT_EQ(c.mr2, 1ull << 33);   // consumer's own j = 1
  EXPECT_EQ(c.ops[1], (CapOp{CapOp::kMint, Source::kNotification, 2, 34, 3, KEEL_RIGHT_WRITE, 1ull << 32}));
  EXPECT_TRUE(f.ch->cap_out(2, 0));
  EXPECT_TRUE(f.ch->cap_out(2, 1));
}

TEST(MsgChannels, PeerNotRunningIsChannelDown) {
  Fixture f(sample(), false, 0b0111);  // producer (3) not started
  EXPECT_EQ(f.open(2, "data").status, KEEL_CHANNEL_DOWN);
  EXPECT_EQ(f.open(2, "back").status, KEEL_CHANNEL_DOWN);
  // The waiter end of an event needs nothing from the peer.
  EXPECT_EQ(f.open(3, "back").status, KEEL_OK);
  f.now[0].state = KEEL_STATE_RESTARTING;
  f.ch->changed(f.now);
  EXPECT_EQ(f.open(2, "tick").status, KEEL_OK);  // waiter
}

TEST(MsgChannels, FailedMintLeavesNothingRecorded) {
  Fixture f(sample());
  f.open_ok(2, "tick");
  auto s = f.open(0, "tick");
  f.ch->commit_open(0, s, false);
  EXPECT_FALSE(f.ch->cap_out(1, KEEL_ROLE_FROM));
  EXPECT_TRUE(f.teardown(2).empty());
}

TEST(MsgChannels, ChangedSeesGenerationAndStateOnly) {
  Fixture f(sample());
  EXPECT_EQ(f.ch->changed(f.now), 0u);
  f.now[1].generation = 2;
  f.now[3].state = KEEL_STATE_STOPPED;
  EXPECT_EQ(f.ch->changed(f.now), (1u << 1) | (1u << 3));
  EXPECT_EQ(f.ch->changed(f.now), 0u);  // recorded
}

TEST(MsgChannels, ServerRestartRemovesClientCapsAndServing) {
  Fixture f(sample());
  f.open_ok(0, "calc");
  f.open_ok(0, "calc2");
  f.open_ok(1, "calc");
  f.open_ok(2, "calc2");
  f.open_ok(2, "tick");
  f.open_ok(0, "tick");  // server signals waiter: cap in server's CNode, slot 34
  f.now[0].generation = 2;
  ASSERT_EQ(f.ch->changed(f.now), 1u);
  auto ops = f.teardown(0);
  std::vector<CapOp> want = {cancel(1, 32), del(1, 32), del(0, 34), cancel(2, 38), del(2, 38)};
  EXPECT_EQ(ops, want);
  EXPECT_FALSE(f.ch->serving(0));
  EXPECT_FALSE(f.ch->serving(4));
  // Clients are refused until the restarted server opens its end again; then they re-open.
  EXPECT_EQ(f.open(1, "calc").status, KEEL_CHANNEL_DOWN);
  f.open_ok(0, "calc");
  EXPECT_EQ(f.open(1, "calc").status, KEEL_OK);
  // Nothing left to tear down a second time.
  EXPECT_TRUE(f.teardown(0).empty());
}

TEST(MsgChannels, ClientRestartKeepsTheServerServing) {
  Fixture f(sample());
  f.open_ok(0, "calc");
  f.open_ok(1, "calc");
  f.now[1].generation = 5;
  f.ch->changed(f.now);
  std::vector<CapOp> want = {cancel(1, 32), del(1, 32)};
  EXPECT_EQ(f.teardown(1), want);
  EXPECT_TRUE(f.ch->serving(0));
  EXPECT_EQ(f.open(1, "calc").status, KEEL_OK);
}

TEST(MsgChannels, StreamTeardownTouchesOnlyRunningCNodes) {
  Fixture f(sample());
  f.open_ok(3, "data");
  f.open_ok(2, "data");
  f.now[3].state = KEEL_STATE_STOPPED;  // temporary producer gone for good
  f.ch->changed(f.now);
  std::vector<CapOp> want = {del(2, 34)};  // only the consumer's cap; the producer's CNode is gone
  EXPECT_EQ(f.teardown(3), want);
  EXPECT_FALSE(f.ch->cap_out(2, 0));
  EXPECT_FALSE(f.ch->cap_out(2, 1));
  EXPECT_EQ(f.open(2, "data").status, KEEL_CHANNEL_DOWN);
}

TEST(MsgChannels, WaiterRestartRemovesSignallerCaps) {
  Fixture f(sample());
  f.open_ok(0, "tick");
  f.open_ok(3, "data");
  f.now[2].generation = 9;
  f.ch->changed(f.now);
  std::vector<CapOp> want = {del(0, 34), del(3, 32)};
  EXPECT_EQ(f.teardown(2), want);
}

TEST(MsgChannels, NothingOpenNothingToTearDown) {
  Fixture f(sample());
  for (std::uint32_t x = 0; x < 4; ++x) EXPECT_TRUE(f.teardown(x).empty());
}

TEST(MsgChannels, RestartedMsgAssumesEverythingIsOut) {
  Fixture f(sample(), true, 0b1101);  // client (1) not running
  EXPECT_TRUE(f.ch->serving(0));
  EXPECT_TRUE(f.ch->serving(4));
  EXPECT_EQ(f.open(2, "calc2").status, KEEL_OK);
  // Teardown of the server deletes the caps a previous msg may have minted (client 1 is down:
  // its CNode is not touched).
  std::vector<CapOp> want = {del(0, 34), cancel(2, 38), del(2, 38)};
  EXPECT_EQ(f.teardown(0), want);
}

TEST(MsgChannels, TooManyEndsIsRefused) {
  Model m = base_model(2);
  for (std::uint32_t i = 0; i <= KEEL_MAX_CHANNEL_ENDS; ++i)
    m.channels.push_back({"ch" + std::to_string(i), ChannelKind::kRpc, 0, 1, "a" + std::to_string(i),
                          "b" + std::to_string(i), 0});
  Fixture f(m);
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.failure.code, keel::msg::BuildError::kTooManyEnds);
}

TEST(MsgChannels, TooManyNotifyBitsIsRefused) {
  Model m = base_model(2);
  for (std::uint32_t i = 0; i <= KEEL_MAX_EVENT_ENDS; ++i)
    m.channels.push_back({"ev" + std::to_string(i), ChannelKind::kEvent, 0, 1, "a" + std::to_string(i),
                          "b" + std::to_string(i), 0});
  Fixture f(m);
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.failure.code, keel::msg::BuildError::kTooManyNotify);
  EXPECT_EQ(f.failure.component, 1u);
  // Exactly the limit is fine.
  m.channels.pop_back();
  Fixture g(m);
  EXPECT_TRUE(g.ok);
  EXPECT_EQ(g.ch->end(1, KEEL_MAX_EVENT_ENDS - 1).notify, KEEL_MAX_EVENT_ENDS - 1);
}

std::vector<std::uint64_t> pack(const std::string& s, std::uint64_t len_override = ~0ull) {
  std::vector<std::uint64_t> m{len_override == ~0ull ? s.size() : len_override};
  for (std::size_t i = 0; i < s.size(); i += 8) {
    std::uint64_t w = 0;
    for (std::size_t b = 0; b < 8 && i + b < s.size(); ++b) w |= std::uint64_t{static_cast<std::uint8_t>(s[i + b])} << (8 * b);
    m.push_back(w);
  }
  return m;
}

bool valid(const std::vector<std::uint64_t>& m) {
  return keel::msg::valid_name(reinterpret_cast<const char*>(m.data() + 1), m[0]);
}

TEST(MsgChannels, ValidName) {
  EXPECT_TRUE(valid(pack("sensor.data")));
  // Non-zero padding after the name.
  EXPECT_FALSE(valid(pack("sensor.data", 10)));
  // Control characters (an escape sequence would reach the console log), non-ASCII.
  EXPECT_FALSE(valid(pack("a\x1b[2Jb")));
  EXPECT_FALSE(valid(pack("caf\xc3\xa9")));
  EXPECT_FALSE(valid(pack("tab\there")));
  // Empty, too long, the longest.
  EXPECT_FALSE(valid(pack("")));
  EXPECT_FALSE(valid(pack(std::string(keel::msg::kMaxNameLen + 1, 'x'))));
  EXPECT_TRUE(valid(pack(std::string(keel::msg::kMaxNameLen, 'x'))));
  EXPECT_FALSE(valid(pack(std::string(keel::msg::kMaxNameLen, 'x'), 1ull << 40)));
}

// What the msg server decodes before valid_name: the typed request (keel/sys/sessions.hh).
TEST(MsgChannels, OpenRequestDecoding) {
  using Open = keel::rpc::msg::Open;
  auto m = pack("sensor.data");
  m.resize(KEEL_MSG_MAX_LENGTH);
  std::string got;
  auto a = keel::rpc::serve<Open>(m.data(), 3, [&](keel::rpc::msg::Name n) -> keel::Result<Open::Value> {
    got.assign(n.data, n.len);
    return Open::Value{};
  });
  EXPECT_EQ(a.label, keel_word_t{KEEL_OK});
  EXPECT_EQ(got, "sensor.data");
  for (std::size_t len : {0, 2, 4}) {  // no length word, a word short, a word too many
    a = keel::rpc::serve<Open>(m.data(), len, [](keel::rpc::msg::Name) -> keel::Result<Open::Value> {
      ADD_FAILURE() << "handler called";
      return Open::Value{};
    });
    EXPECT_EQ(a.label, keel_word_t{KEEL_INVALID_ARGUMENT}) << len;
  }
}

TEST(MsgChannels, DenialLine) {
  char buf[128];
  StrView comp{"intruder", 8};
  std::size_t n = keel::msg::format_denial(buf, sizeof buf, comp, "secret", 6, true);
  EXPECT_EQ(std::string(buf, n), "msg: denied: intruder asked for channel 'secret'");
  EXPECT_EQ(std::strlen(buf), n);
  n = keel::msg::format_denial(buf, sizeof buf, comp, "secret", 6, false);
  EXPECT_EQ(std::string(buf), "denied: intruder asked for channel 'secret'");
  n = keel::msg::format_denial(buf, 10, comp, "secret", 6, true);
  EXPECT_EQ(n, 9u);
  EXPECT_EQ(std::string(buf), "msg: deni");
}

TEST(MsgChannels, DenialLogIsRateLimitedPerGeneration) {
  Fixture f(sample());
  for (std::uint32_t i = 0; i < keel::msg::kDenialLogLimit; ++i) EXPECT_EQ(f.ch->note_denial(1), keel::msg::DenialLog::kLog);
  EXPECT_EQ(f.ch->note_denial(1), keel::msg::DenialLog::kLogSuppressed);
  EXPECT_EQ(f.ch->note_denial(1), keel::msg::DenialLog::kSilent);
  EXPECT_EQ(f.ch->note_denial(2), keel::msg::DenialLog::kLog);  // per component
  f.now[1].generation++;
  f.ch->changed(f.now);
  EXPECT_EQ(f.ch->note_denial(1), keel::msg::DenialLog::kLog);
}

}  // namespace
