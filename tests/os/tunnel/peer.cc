// tunnel_peer — the host side of os.tunnel: a WireGuard peer on keel_wg_posix that plays Fleet for
// one device (tests/os/tunnel/README in CMakeLists.txt). It echoes the inner UDP payload of every
// well-formed packet from the device (10.64.0.2:7400 -> 10.64.0.1:7400) back from 10.64.0.1:7400,
// except two test payloads: one starting "BADPORT" is answered from port 7401 and one starting
// "BADSRC" from 10.64.0.9 (the device must drop and count both).
//
//   tunnel_peer keygen KEYFILE            a new private key (base64) into KEYFILE (0600); prints the public key
//   tunnel_peer serve --key-file F --device-key B64 --port P [--exit-after N]
//        answers on 127.0.0.1:P (QEMU user networking's 10.0.2.2:P); --exit-after: exit 0 after N
//        echoes (the restart test starts it again).
#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "keel/tunnel/inner.h"
#include "keel/wg/posix.h"

namespace {

using namespace keel::wg;
namespace tn = keel::tunnel;

const tn::InnerAddrs kFleet{0x0a400001, 0x0a400002, 7400};   // as Fleet sees it
const tn::InnerAddrs kBadPort{0x0a400001, 0x0a400002, 7401};
const tn::InnerAddrs kBadSrc{0x0a400009, 0x0a400002, 7400};

struct Reply {
  tn::InnerAddrs from;
  std::vector<uint8_t> payload;
};

class PeerSink final : public Sink {
 public:
  int fd = -1;
  std::vector<Reply> replies;
  unsigned handshakes = 0, dropped = 0;
  void send(Peer*, const Endpoint& to, Bytes d) override {
    sockaddr_storage ss;
    const socklen_t len = endpoint_to_sockaddr(to, ss);
    (void)::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  }
  void deliver(Peer&, MutBytes p) override {
    const uint8_t* payload = nullptr;
    size_t n = 0;
    // Fleet's view: the device is the "fleet_address" of this check.
    const tn::InnerDrop why = tn::check_inner(kFleet, p.data(), p.size(), &payload, &n);
    if (why != tn::InnerDrop::None) {
      ++dropped;
      std::printf("peer: inner packet from the device dropped: %s\n", tn::to_string(why));
      std::fflush(stdout);
      return;
    }
    Reply r{kFleet, std::vector<uint8_t>(payload, payload + n)};
    if (n >= 7 && std::memcmp(payload, "BADPORT", 7) == 0) r.from = kBadPort;
    if (n >= 6 && std::memcmp(payload, "BADSRC", 6) == 0) r.from = kBadSrc;
    replies.push_back(std::move(r));
  }
  void event(Peer&, Event e) override {
    if (e == Event::HandshakeComplete) {
      ++handshakes;
      std::printf("peer: handshake complete with the device (%u)\n", handshakes);
      std::fflush(stdout);
    }
  }
};

int keygen(const char* path) {
  Key priv, pub;
  randombytes_buf(priv.data(), priv.size());
  clamp(priv);
  public_from_private(pub, priv);
  char b[45];
  key_to_base64(priv, b);
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ::write(fd, b, 44) != 44 || ::close(fd) != 0) {
    std::perror(path);
    return 1;
  }
  key_to_base64(pub, b);
  std::printf("%s\n", b);
  return 0;
}

int serve(int argc, char** argv) {
  std::string key_file, device_key;
  int port = 0;
  long exit_after = 0;
  for (int i = 0; i + 1 < argc; i += 2) {
    const std::string o = argv[i];
    if (o == "--key-file") key_file = argv[i + 1];
    else if (o == "--device-key") device_key = argv[i + 1];
    else if (o == "--port") port = std::atoi(argv[i + 1]);
    else if (o == "--exit-after") exit_after = std::atol(argv[i + 1]);
    else {
      std::fprintf(stderr, "tunnel_peer: unknown option %s\n", o.c_str());
      return 2;
    }
  }
  char kb[64] = {};
  FILE* f = std::fopen(key_file.c_str(), "r");
  if (f == nullptr || std::fread(kb, 1, 44, f) != 44) {
    std::fprintf(stderr, "tunnel_peer: cannot read %s\n", key_file.c_str());
    return 1;
  }
  std::fclose(f);
  Key priv, dev;
  if (!key_from_base64(kb, priv) || !key_from_base64(device_key.c_str(), dev)) {
    std::fprintf(stderr, "tunnel_peer: bad key\n");
    return 1;
  }
  PeerSink sink;
  sink.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  Endpoint self;
  parse_endpoint(("127.0.0.1:" + std::to_string(port)).c_str(), self);
  sockaddr_storage ss;
  const socklen_t sl = endpoint_to_sockaddr(self, ss);
  const int one = 1;
  (void)::setsockopt(sink.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(sink.fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) {
    std::perror("tunnel_peer: bind");
    return 1;
  }
  SystemClock clock;
  SystemRandom rng;
  static SmallDirectory<1> dir(rng);
  static FixedKeypairPool<4> pool;
  static Engine engine(priv, clock, rng, dir, pool);
  static Peer peer;
  if (!engine.init_peer(peer, dev, nullptr).ok()) return 1;
  dir.add(peer);
  char pb[45];
  key_to_base64(engine.public_key(), pb);
  std::printf("peer: listening on 127.0.0.1:%d, public key %s\n", port, pb);
  std::fflush(stdout);
  long echoed = 0;
  std::vector<uint8_t> buf(2048), inner(2048), out(2048 + kSendOverhead);
  uint16_t id = 0;
  for (;;) {
    pollfd p{sink.fd, POLLIN, 0};
    (void)::poll(&p, 1, 50);
    if (p.revents & POLLIN) {
      sockaddr_storage from;
      socklen_t fl = sizeof from;
      const ssize_t n = ::recvfrom(sink.fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n > 0) (void)engine.receive(MutBytes(buf.data(), size_t(n)), endpoint_from_sockaddr(from), false, sink);
    }
    const uint64_t d = Engine::next_deadline(peer);
    if (d != 0 && clock.now_ns() >= d) engine.tick(peer, sink);
    for (const Reply& r : sink.replies) {
      const size_t n = tn::build_inner(r.from, id++, r.payload.data(), r.payload.size(), inner.data(), inner.size());
      if (n == 0) continue;
      if (!engine.send(peer, Bytes(inner.data(), n), MutBytes(out.data(), n + kSendOverhead), sink).ok()) continue;
      ++echoed;
      if (echoed % 10 == 0) {
        std::printf("peer: echoed %ld\n", echoed);
        std::fflush(stdout);
      }
    }
    sink.replies.clear();
    if (exit_after > 0 && echoed >= exit_after) {
      std::printf("peer: exiting after %ld echoes\n", echoed);
      return 0;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0 || !crypto_init()) return 1;
  if (argc == 3 && std::strcmp(argv[1], "keygen") == 0) return keygen(argv[2]);
  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0) return serve(argc - 2, argv + 2);
  std::fprintf(stderr, "usage: tunnel_peer keygen KEYFILE | serve --key-file F --device-key B64 --port P [--exit-after N]\n");
  return 2;
}
