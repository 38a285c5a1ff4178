// Exactly-once commands, as docs/control-protocol.md describes them, played out over the
// protocol: Fleet resends every command without a recorded result on each new session; the
// device records an id before answering and answers a known id from its record. With 10 % loss,
// reordering, duplication and the session torn down twice (a device reboot, a Fleet restart),
// every command runs exactly once and every result reaches Fleet.
#include <map>
#include <memory>
#include <set>

#include "harness.h"
#include "keel/control/messages.h"

namespace keel::control::test {
namespace {

// Cuts messages out of a stream's bytes as they arrive.
struct Inbox {
  Buf buf;
  template <class F>
  void pump(Session& s, uint64_t id, F&& on_message) {
    bool fin;
    uint8_t tmp[2048];
    for (;;) {
      auto r = s.read(id, tmp, fin);
      if (!r.ok() || !r.value()) break;
      buf.insert(buf.end(), tmp, tmp + r.value());
    }
    for (;;) {
      auto v = next_message(buf);
      ASSERT_TRUE(v.ok());
      if (!v.value().size) break;
      on_message(v.value());
      buf.erase(buf.begin(), buf.begin() + long(v.value().size));
    }
  }
};

TEST(Commands, ExactlyOnceAcrossLossAndReconnects) {
  // Durable state on each side: survives sessions (the store).
  std::map<uint64_t, Outcome> device_store;  // executed ids and their outcome
  std::map<uint64_t, int> executions;        // what actually ran (the test's witness)
  std::set<uint64_t> fleet_done;             // ids whose result Fleet recorded
  size_t from_record = 0, sessions = 0;
  std::vector<uint64_t> queue;
  for (uint64_t id = 1; id <= 40; ++id) queue.push_back(id);

  for (int session = 0; session < 3 && fleet_done.size() < queue.size(); ++session) {
    ++sessions;
    auto p = std::make_unique<Pair>(Timing{}, Timing{}, 0x1000 + uint64_t(session));
    for (Link* l : {&p->up, &p->down}) {
      l->loss = 0.1;
      l->reorder = 0.1;
      l->duplicate = 0.05;
      l->rng.seed(uint64_t(session) + 11);
    }
    const uint64_t control = p->client.open_stream().value();
    uint8_t m[2048];
    const size_t hn = encode(Hello{1, {}, 0}, m).value();
    ASSERT_EQ(p->client.write(control, {m, hn}).value_or(0), hn);
    Inbox at_fleet, at_device;
    Buf fleet_out, device_out;
    bool hello_seen = false;
    p->app = [&] {
      (void)p->server.accept_stream();
      at_fleet.pump(p->server, control, [&](const MessageView& mv) {
        if (mv.type == MsgType::Hello && !hello_seen) {
          hello_seen = true;  // (authentication omitted here: auth_test covers it)
          for (uint64_t id : queue) {
            if (fleet_done.count(id)) continue;
            static const Buf args = pattern(1000, 5);  // bulky: the queue spans many packets
            const size_t n = encode(Command{id, kCmdRestartComponent, args}, m).value();
            fleet_out.insert(fleet_out.end(), m, m + n);
          }
        } else if (mv.type == MsgType::CommandResult) {
          CommandResult r;
          ASSERT_TRUE(decode(mv.body, r).ok());
          fleet_done.insert(r.id);  // recorded; a duplicate result changes nothing
        }
      });
      at_device.pump(p->client, control, [&](const MessageView& mv) {
        ASSERT_EQ(mv.type, MsgType::Command);
        Command c;
        ASSERT_TRUE(decode(mv.body, c).ok());
        auto known = device_store.find(c.id);
        Outcome o;
        if (known != device_store.end()) {
          o = known->second;  // ran before (an earlier session): answer from the record
          ++from_record;
        } else {
          ++executions[c.id];             // execute ...
          device_store[c.id] = Outcome::Done;  // ... record durably ...
          o = Outcome::Done;
        }
        const size_t n = encode(CommandResult{c.id, o, {}}, m).value();  // ... then answer
        device_out.insert(device_out.end(), m, m + n);
      });
      for (auto [s, out] : {std::pair{&p->server, &fleet_out}, std::pair{&p->client, &device_out}}) {
        if (out->empty()) continue;
        auto w = s->write(control, *out);
        if (w.ok()) out->erase(out->begin(), out->begin() + long(w.value()));
      }
    };
    // The first two sessions end abruptly part-way (a reboot, then a Fleet restart), right after
    // the device executed its 12th and 25th command: whatever was in flight is lost with them.
    const size_t cut = session == 0 ? 12 : session == 1 ? 25 : ~size_t{0};
    p->run_until([&] { return fleet_done.size() == queue.size() || executions.size() >= cut; }, 300 * kSec);
  }
  EXPECT_EQ(sessions, 3u);
  EXPECT_GT(from_record, 0u);  // some results were lost with a session: the record answered them
  EXPECT_EQ(fleet_done.size(), queue.size());
  for (uint64_t id : queue) EXPECT_EQ(executions[id], 1) << "command " << id;
}

}  // namespace
}  // namespace keel::control::test
