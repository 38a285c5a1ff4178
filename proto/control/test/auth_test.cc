// Authentication on the control channel: the transcript and its refusals.
#include <sodium.h>

#include "harness.h"
#include "keel/control/auth.h"

namespace keel::control::test {
namespace {

struct Keys {
  uint8_t pk[crypto_sign_PUBLICKEYBYTES];
  uint8_t sk[crypto_sign_SECRETKEYBYTES];
  explicit Keys(uint8_t seed_byte) {
    uint8_t seed[crypto_sign_SEEDBYTES];
    std::memset(seed, seed_byte, sizeof seed);
    crypto_sign_ed25519_seed_keypair(pk, sk, seed);
  }
};

class KeySigner final : public Signer {
 public:
  explicit KeySigner(const Keys& k) : k_(k) {}
  bool sign(Bytes t, uint8_t sig[kSigLen]) override {
    return crypto_sign_ed25519_detached(sig, nullptr, t.data(), t.size(), k_.sk) == 0;
  }

 private:
  const Keys& k_;
};

class CountingRandom final : public Random {
 public:
  uint8_t next = 1;
  void fill(MutBytes out) override {
    for (auto& b : out) b = next;
    ++next;
  }
};

struct Parties {
  Keys identity{0x51}, other{0x52};
  uint8_t device_tunnel[kKeyLen], fleet_tunnel[kKeyLen];
  CountingRandom rng;
  Parties() {
    std::memset(device_tunnel, 0xd1, kKeyLen);
    std::memset(fleet_tunnel, 0xf1, kKeyLen);
  }
};

TEST(Auth, TranscriptLayout) {
  AuthInputs in;
  in.version = 1;
  in.session_id = 0x0102030405060708;
  std::memset(in.nonce, 0xaa, kNonceLen);
  std::memset(in.device_tunnel_key, 0xbb, kKeyLen);
  std::memset(in.fleet_tunnel_key, 0xcc, kKeyLen);
  std::memset(in.identity_key, 0xdd, kKeyLen);
  uint8_t t[kTranscriptLen];
  build_transcript(in, t);
  EXPECT_EQ(kTranscriptLen, 157u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(t), 20), "keel control auth v1");
  EXPECT_EQ(t[20], 1);
  EXPECT_EQ(hex({t + 21, 8}), "0102030405060708");
  EXPECT_EQ(t[29], 0xaa);
  EXPECT_EQ(t[61], 0xbb);
  EXPECT_EQ(t[93], 0xcc);
  EXPECT_EQ(t[125], 0xdd);
  EXPECT_EQ(t[156], 0xdd);
}

TEST(Auth, DeviceWithRegisteredKeyIsAccepted) {
  Parties s;
  AuthClient dev(42, s.device_tunnel, s.fleet_tunnel, s.identity.pk);
  AuthServer fleet(42, s.fleet_tunnel, s.device_tunnel, s.identity.pk);
  auto ch = fleet.on_hello(dev.hello(kCapConsole), s.rng);
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch.value().session_id, 42u);
  KeySigner signer(s.identity);
  auto a = dev.on_challenge(ch.value(), signer);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(fleet.on_auth(a.value()).ok());
  EXPECT_TRUE(fleet.authenticated());
  // One answer per challenge.
  EXPECT_EQ(fleet.on_auth(a.value()).error(), Error::AuthState);
}

TEST(Auth, SignatureByAnotherKeyIsRefused) {
  Parties s;
  AuthClient dev(42, s.device_tunnel, s.fleet_tunnel, s.identity.pk);
  AuthServer fleet(42, s.fleet_tunnel, s.device_tunnel, s.identity.pk);
  auto ch = fleet.on_hello(dev.hello(0), s.rng).value();
  KeySigner wrong(s.other);  // claims the registered key, signs with another device's key
  auto a = dev.on_challenge(ch, wrong).value();
  EXPECT_EQ(fleet.on_auth(a).error(), Error::AuthFailed);
  EXPECT_FALSE(fleet.authenticated());
}

TEST(Auth, ClaimedIdentityMustBeTheRegisteredOne) {
  Parties s;
  AuthClient dev(42, s.device_tunnel, s.fleet_tunnel, s.other.pk);
  AuthServer fleet(42, s.fleet_tunnel, s.device_tunnel, s.identity.pk);
  EXPECT_EQ(fleet.on_hello(dev.hello(0), s.rng).error(), Error::AuthUnknownDevice);
}

TEST(Auth, ChallengeReplayedFromAnotherSessionIsRefused) {
  Parties s;
  KeySigner signer(s.identity);
  // Session 41's challenge, captured and shown to the device in session 42.
  AuthServer fleet41(41, s.fleet_tunnel, s.device_tunnel, s.identity.pk);
  AuthClient dev41(41, s.device_tunnel, s.fleet_tunnel, s.identity.pk);
  auto ch41 = fleet41.on_hello(dev41.hello(0), s.rng).value();
  AuthClient dev42(42, s.device_tunnel, s.fleet_tunnel, s.identity.pk);
  EXPECT_EQ(dev42.on_challenge(ch41, signer).error(), Error::AuthState);
  // And a signature made in session 41 does not open session 42, even for the same nonce.
  auto sig41 = dev41.on_challenge(ch41, signer).value();
  AuthServer fleet42(42, s.fleet_tunnel, s.device_tunnel, s.identity.pk);
  CountingRandom same;
  same.next = 1;  // fleet42 draws the very nonce fleet41 drew
  auto ch42 = fleet42.on_hello(dev42.hello(0), same).value();
  EXPECT_EQ(std::memcmp(ch42.nonce, ch41.nonce, kNonceLen), 0);
  EXPECT_EQ(fleet42.on_auth(sig41).error(), Error::AuthFailed);
}

TEST(Auth, WrongVersionIsRefused) {
  Parties s;
  AuthClient dev(42, s.device_tunnel, s.fleet_tunnel, s.identity.pk);
  AuthServer fleet(42, s.fleet_tunnel, s.device_tunnel, s.identity.pk);
  Hello h = dev.hello(0);
  h.version = 2;
  EXPECT_EQ(fleet.on_hello(h, s.rng).error(), Error::VersionUnsupported);
  // A signature over a transcript of another version does not verify.
  AuthInputs in;
  in.version = 2;
  in.session_id = 42;
  std::memcpy(in.device_tunnel_key, s.device_tunnel, kKeyLen);
  std::memcpy(in.fleet_tunnel_key, s.fleet_tunnel, kKeyLen);
  std::memcpy(in.identity_key, s.identity.pk, kKeyLen);
  uint8_t t[kTranscriptLen];
  build_transcript(in, t);
  AuthMsg m;
  KeySigner(s.identity).sign({t, sizeof t}, m.signature);
  in.version = 1;
  EXPECT_EQ(verify_auth(in, m).error(), Error::AuthFailed);
}

TEST(Auth, TunnelKeysAreBound) {
  Parties s;
  KeySigner signer(s.identity);
  AuthClient dev(42, s.device_tunnel, s.fleet_tunnel, s.identity.pk);
  // Fleet sees the device through another tunnel key (a relay): the signature does not verify.
  uint8_t relay[kKeyLen];
  std::memset(relay, 0xee, kKeyLen);
  AuthServer fleet(42, s.fleet_tunnel, relay, s.identity.pk);
  auto ch = fleet.on_hello(dev.hello(0), s.rng).value();
  EXPECT_EQ(fleet.on_auth(dev.on_challenge(ch, signer).value()).error(), Error::AuthFailed);
}

TEST(Auth, OutOfOrderMessagesAreRefused) {
  Parties s;
  AuthServer fleet(42, s.fleet_tunnel, s.device_tunnel, s.identity.pk);
  AuthMsg a{};
  EXPECT_EQ(fleet.on_auth(a).error(), Error::AuthState);
  AuthServer fleet2(42, s.fleet_tunnel, s.device_tunnel, s.identity.pk);
  AuthClient dev(42, s.device_tunnel, s.fleet_tunnel, s.identity.pk);
  ASSERT_TRUE(fleet2.on_hello(dev.hello(0), s.rng).ok());
  EXPECT_EQ(fleet2.on_hello(dev.hello(0), s.rng).error(), Error::AuthState);
  KeySigner signer(s.identity);
  Challenge c;
  c.session_id = 42;
  ASSERT_TRUE(dev.on_challenge(c, signer).ok());
  EXPECT_EQ(dev.on_challenge(c, signer).error(), Error::AuthState);
}

// HELLO → CHALLENGE → AUTH → AUTH_OK as messages on stream 0 over a lossy path.
TEST(Auth, HandshakeOverALossyPath) {
  Parties s;
  Pair p;
  for (Link* l : {&p.up, &p.down}) {
    l->loss = 0.1;
    l->reorder = 0.1;
    l->duplicate = 0.05;
  }
  KeySigner signer(s.identity);
  AuthClient dev(p.client.id(), s.device_tunnel, s.fleet_tunnel, s.identity.pk);
  AuthServer fleet(p.server.id(), s.fleet_tunnel, s.device_tunnel, s.identity.pk);
  const uint64_t sid = p.client.open_stream().value();
  EXPECT_EQ(sid, 0u);  // the control stream
  uint8_t m[256];
  size_t n = encode(dev.hello(kCapConsole | kCapSerial), m).value();
  ASSERT_EQ(p.client.write(sid, {m, n}).value_or(0), n);
  Buf at_server, at_device;
  bool ok = false;
  auto take = [](Buf& buf, Session& sess, uint64_t id) -> Result<MessageView, Error> {
    bool fin;
    uint8_t tmp[512];
    auto r = sess.read(id, tmp, fin);
    if (r.ok()) buf.insert(buf.end(), tmp, tmp + r.value());
    return next_message(buf);
  };
  p.app = [&] {
    (void)p.server.accept_stream();
    if (auto v = take(at_server, p.server, sid); v.ok() && v.value().size) {
      const MessageView mv = v.value();
      uint8_t out[256];
      if (mv.type == MsgType::Hello) {
        Hello h;
        ASSERT_TRUE(decode(mv.body, h).ok());
        auto ch = fleet.on_hello(h, s.rng);
        ASSERT_TRUE(ch.ok());
        size_t k = encode(ch.value(), out).value();
        ASSERT_EQ(p.server.write(sid, {out, k}).value_or(0), k);
      } else if (mv.type == MsgType::Auth) {
        AuthMsg a;
        ASSERT_TRUE(decode(mv.body, a).ok());
        ASSERT_TRUE(fleet.on_auth(a).ok());
        size_t k = encode_auth_ok(out).value();
        ASSERT_EQ(p.server.write(sid, {out, k}).value_or(0), k);
      }
      at_server.erase(at_server.begin(), at_server.begin() + long(mv.size));
    }
    if (auto v = take(at_device, p.client, sid); v.ok() && v.value().size) {
      const MessageView mv = v.value();
      if (mv.type == MsgType::Challenge) {
        Challenge c;
        ASSERT_TRUE(decode(mv.body, c).ok());
        auto a = dev.on_challenge(c, signer);
        ASSERT_TRUE(a.ok());
        uint8_t out[256];
        size_t k = encode(a.value(), out).value();
        ASSERT_EQ(p.client.write(sid, {out, k}).value_or(0), k);
      } else if (mv.type == MsgType::AuthOk) {
        ok = true;
      }
      at_device.erase(at_device.begin(), at_device.begin() + long(mv.size));
    }
  };
  ASSERT_TRUE(p.run_until([&] { return ok; }));
  EXPECT_TRUE(fleet.authenticated());
}

}  // namespace
}  // namespace keel::control::test
