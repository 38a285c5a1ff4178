// The worked example of docs/control-protocol.md ("Worked example"): the device's first packet
// (HELLO on the control stream) and Fleet's answer (ACK + CHALLENGE), byte for byte. If this test
// changes, the document changes with it.
#include "harness.h"
#include "keel/control/auth.h"

namespace keel::control::test {
namespace {

// The two datagrams exactly as they appear in the document.
const char* kDevicePacket =
    "c0" "1122334455667788" "01" "00" "002d"  // long header + ACK-now, session id, version 1, pn 0 (1 byte), 45 bytes
    "03" "00" "00" "00" "28"                  // STREAM: id 0, flags 0, offset 0, length 40
    "0026" "01"                               // message: length 38, type HELLO
    "01"                                      // version 1
    "1111111111111111111111111111111111111111111111111111111111111111"  // identity key
    "00000009";                               // capabilities: console | serial
const char* kFleetPacket =
    "c0" "1122334455667788" "01" "00" "0035"  // long header (no short one seen yet) + ACK-now, pn 0, 53 bytes
    "02" "00" "28" "00" "00"                  // ACK: largest 0, delay 40 us, no more ranges, first range 0
    "03" "00" "00" "00" "2b"                  // STREAM: id 0, flags 0, offset 0, length 43
    "0029" "02"                               // message: length 41, type CHALLENGE
    "0101010101010101010101010101010101010101010101010101010101010101"  // nonce
    "1122334455667788";                       // session id

class OnesRandom final : public Random {
 public:
  void fill(MutBytes out) override {
    for (auto& b : out) b = 1;
  }
};

TEST(Example, BytesOfTheDocument) {
  Pair p;
  const uint8_t fleet_tunnel[kKeyLen] = {}, device_tunnel[kKeyLen] = {};
  uint8_t identity[kKeyLen];
  std::memset(identity, 0x11, kKeyLen);
  AuthClient dev(p.client.id(), device_tunnel, fleet_tunnel, identity);
  AuthServer fleet(p.server.id(), fleet_tunnel, device_tunnel, identity);

  const uint64_t stream = p.client.open_stream().value();
  uint8_t msg[128];
  const size_t n = encode(dev.hello(kCapConsole | kCapSerial), msg).value();
  ASSERT_EQ(p.client.write(stream, {msg, n}).value_or(0), n);
  uint8_t pkt[2048];
  const size_t k = p.client.poll_send(pkt);
  std::printf("device: %s\n", hex({pkt, k}).c_str());
  EXPECT_EQ(hex({pkt, k}), hex(unhex(kDevicePacket)));

  // Fleet: accept, read HELLO, answer with CHALLENGE (the HELLO asked for an immediate ACK).
  ASSERT_EQ(Session::accept({pkt, k}).value_or(0), p.server.id());
  ASSERT_TRUE(p.server.receive({pkt, k}, p.caddr).ok());
  ASSERT_EQ(p.server.accept_stream().value_or(99), stream);
  uint8_t in[128];
  bool fin = false;
  const size_t got = p.server.read(stream, in, fin).value_or(0);
  auto mv = next_message({in, got}).value();
  ASSERT_EQ(mv.type, MsgType::Hello);
  Hello h;
  ASSERT_TRUE(decode(mv.body, h).ok());
  OnesRandom ones;
  const size_t cn = encode(fleet.on_hello(h, ones).value(), msg).value();
  ASSERT_EQ(p.server.write(stream, {msg, cn}).value_or(0), cn);
  p.clock.now += 40 * 1000;  // 40 us later
  const size_t r = p.server.poll_send(pkt);
  std::printf("fleet:  %s\n", hex({pkt, r}).c_str());
  EXPECT_EQ(hex({pkt, r}), hex(unhex(kFleetPacket)));
  ASSERT_TRUE(p.client.receive({pkt, r}, p.saddr).ok());
  EXPECT_EQ(p.client.state(), State::Open);
}

}  // namespace
}  // namespace keel::control::test
