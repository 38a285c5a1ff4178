// libFuzzer target for the net service's logic: arbitrary frames into two configured Stacks (a
// static address, and DHCP), interleaved with send_udp, poll with time jumps, bind and close.
// Each input starts from fresh Stacks, so a crash reproduces from its input alone.
//
// Input: a sequence of records [op][len hi][len lo][len bytes] (len clipped to what is left):
//   op & 7 == 0  a frame for the static Stack          1  a frame for the DHCP Stack
//          == 2  send_udp on the static Stack: [socket][dst 4][port 2][payload...]
//          == 3  send_udp on the DHCP Stack (same layout)
//          == 4  advance the clock by [4 bytes] us (scaled by 1024) and poll both Stacks dry
//          == 5  bind: [stack][component][port 2]     6  close [stack][socket]
//          == 7  close_component [stack][component]
//   op & 8: before a frame goes in, fix its IPv4 header, UDP and ICMP checksums, so mutations get
//           past them; op & 16: put the DHCP client's xid and our MAC into a DHCP reply (offset
//           42), so mutated offers and ACKs reach the state machine.
// Invariants (abort on violation): a dropped frame bumps exactly one drop counter; replies and
// polled frames parse back; a delivered payload lies inside the received frame and its source is
// allowed by the owner's grant; a framed send parses back to the same payload; the ARP cache and
// its pool stay within their bounds; rx_frames counts every frame.
//
// Seeds: run with NET_FUZZ_WRITE_SEEDS=<dir> and the binary writes a seed corpus for these very
// Stacks (the build does that after linking).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "keel/net/stack.h"

using namespace keel::net;

namespace {

const MacAddr kOurs{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const MacAddr kPeer{{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}};
const Ipv4Addr kUs = Ipv4Addr::of(10, 0, 2, 15);
const Ipv4Addr kGateway = Ipv4Addr::of(10, 0, 2, 2);

std::uint32_t rng(void* ctx) {
  auto* s = static_cast<std::uint32_t*>(ctx);
  *s = *s * 1664525u + 1013904223u;
  return *s;
}

struct World {
  Grant grants[3];
  std::uint32_t seed_static = 1, seed_dhcp = 2;
  alignas(Stack) unsigned char storage[2][sizeof(Stack)];
  Stack* stacks[2] = {nullptr, nullptr};
  SocketId sockets[2][8] = {};
  std::uint64_t now = 0;
  std::uint8_t out[kMaxFrame];

  World() {
    grants[0].component = 1;
    grants[0].name = "echo";
    grants[0].local[0] = {7000, 7003};
    grants[0].local_count = 1;
    grants[0].remote[0] = RemoteRule::any();
    grants[0].remote_count = 1;
    grants[1].component = 2;
    grants[1].name = "tunnel";
    grants[1].local[0] = PortRange::single(51820);
    grants[1].local_count = 1;
    grants[1].ephemeral = {50000, 50003};
    grants[1].remote[0] = {Ipv4Addr::of(198, 51, 100, 0), 24, PortRange::single(51820)};
    grants[1].remote[1] = {kGateway, 32, {1, 1024}};
    grants[1].remote_count = 2;
    grants[2].component = 3;
    grants[2].name = "dns";
    grants[2].local[0] = {5353, 5353};
    grants[2].local_count = 1;
    grants[2].remote[0] = {Ipv4Addr::of(10, 0, 2, 3), 32, PortRange::single(53)};
    grants[2].remote_count = 1;
  }
  void reset() {
    for (int i = 0; i < 2; ++i) {
      if (stacks[i]) stacks[i]->~Stack();
      StackConfig c;
      c.mac = kOurs;
      c.mode = i == 0 ? AddressMode::kStatic : AddressMode::kDhcp;
      c.static_ip.address = kUs;
      c.static_ip.mask = 0xffffff00u;
      c.static_ip.gateway = kGateway;
      c.grants = std::span<const Grant>(grants, 3);
      std::uint32_t* seed = i == 0 ? &seed_static : &seed_dhcp;
      *seed = static_cast<std::uint32_t>(i + 1);
      c.random = RandomSource{&rng, seed};
      stacks[i] = new (storage[i]) Stack(c);
      if (!stacks[i]->start(0).ok()) std::abort();
      for (SocketId& s : sockets[i]) s = SocketId{};
    }
    now = 0;
    // A few sockets bound, as a running system has.
    sockets[0][0] = stacks[0]->bind(1, 7000).value_or(SocketId{});
    sockets[0][1] = stacks[0]->bind(2, 51820).value_or(SocketId{});
    sockets[0][2] = stacks[0]->bind(2, 0).value_or(SocketId{});
    sockets[0][3] = stacks[0]->bind(3, 5353).value_or(SocketId{});
    sockets[1][0] = stacks[1]->bind(1, 7000).value_or(SocketId{});
    sockets[1][1] = stacks[1]->bind(2, 51820).value_or(SocketId{});
    // The DHCP Stack's DISCOVER goes out.
    while (stacks[1]->poll(now, MutBytes(out, sizeof out))) {
    }
  }
};

World& world() {
  static World* w = new World();
  return *w;
}

// Fix the checksums of an IPv4 frame in place (best effort: only where the lengths allow).
void fix_checksums(std::uint8_t* f, std::size_t n) {
  if (n < kEthHeader + kIpv4Header || load16(f + 12) != kEtherIpv4) return;
  std::uint8_t* ip = f + kEthHeader;
  const std::size_t hlen = std::size_t{ip[0] & 0x0fu} * 4;
  if (hlen < kIpv4Header || kEthHeader + hlen > n) return;
  store16(ip + 10, 0);
  store16(ip + 10, checksum(Bytes(ip, hlen)));
  std::size_t total = load16(ip + 2);
  if (total < hlen || kEthHeader + total > n) return;
  std::uint8_t* l4 = ip + hlen;
  const std::size_t l4_len = total - hlen;
  if (ip[9] == kProtoIcmp && l4_len >= kIcmpHeader) {
    store16(l4 + 2, 0);
    store16(l4 + 2, checksum(Bytes(l4, l4_len)));
  } else if (ip[9] == kProtoUdp && l4_len >= kUdpHeader) {
    const std::size_t ulen = load16(l4 + 4);
    if (ulen < kUdpHeader || ulen > l4_len) return;
    store16(l4 + 6, 0);
    const Ipv4Addr src{load32(ip + 12)}, dst{load32(ip + 16)};
    std::uint16_t c = checksum_finish(checksum_add(udp_pseudo_sum(src, dst, static_cast<std::uint16_t>(ulen)), Bytes(l4, ulen)));
    store16(l4 + 6, c == 0 ? 0xffff : c);
  }
}

void check_frame(Bytes f) {
  if (f.size() > kMaxFrame) std::abort();
  auto e = parse_ethernet(f);
  if (!e) std::abort();
  if (e.value().src != kOurs) std::abort();
  if (e.value().type == kEtherArp) {
    if (!parse_arp(e.value().payload).ok()) std::abort();
  } else if (e.value().type == kEtherIpv4) {
    auto ip = parse_ipv4(e.value().payload);
    if (!ip) std::abort();
    if (ip.value().protocol == kProtoUdp && !parse_udp(ip.value()).ok()) std::abort();
    if (ip.value().protocol == kProtoIcmp && !parse_icmp(ip.value().payload).ok()) std::abort();
  } else {
    std::abort();
  }
}

void check_bounds(const Stack& s) {
  if (s.arp().used_count() > kArpEntries || s.arp().pending_count() > kArpPendingFrames) std::abort();
}

void frame_in(World& w, int which, std::uint8_t op, std::uint8_t* f, std::size_t n) {
  Stack& s = *w.stacks[which];
  if ((op & 16) && n >= kUdpPayloadOffset + 44) {
    store32(f + kUdpPayloadOffset + 4, s.dhcp().xid());
    std::memcpy(f + kUdpPayloadOffset + 28, kOurs.b.data(), 6);
  }
  if (op & 8) fix_checksums(f, n);
  const std::uint64_t drops = s.counters().total_drops();
  const std::uint64_t frames = s.counters().rx_frames;
  const Rx r = s.on_frame(w.now, Bytes(f, n), MutBytes(w.out, sizeof w.out));
  if (s.counters().rx_frames != frames + 1) std::abort();
  static const bool verbose = std::getenv("NET_FUZZ_VERBOSE") != nullptr;  // shows how deep seeds get
  if (verbose)
    std::fprintf(stderr, "net_frame_fuzz: stack %d, %zu bytes: kind %d reason %s, dhcp %s, configured %d\n", which, n,
                 static_cast<int>(r.kind), r.kind == Rx::Kind::kDropped ? drop_name(r.reason) : "-",
                 dhcp_state_name(s.dhcp().state()), s.configured());
  switch (r.kind) {
    case Rx::Kind::kDropped:
      if (s.counters().total_drops() != drops + 1 || r.reason == Drop::kCount) std::abort();
      break;
    case Rx::Kind::kReply:
      if (r.reply_size == 0) std::abort();
      check_frame(Bytes(w.out, r.reply_size));
      break;
    case Rx::Kind::kDatagram: {
      const std::uint8_t* p = r.payload.data();
      if (!r.payload.empty() && (p < f || p + r.payload.size() > f + n)) std::abort();
      const SocketInfo* info = s.socket(r.socket);
      if (!info || info->component != r.component) std::abort();
      if (!s.policy().may_receive(r.component, r.src, r.src_port)) std::abort();
      break;
    }
    case Rx::Kind::kConsumed: break;
  }
  check_bounds(s);
}

void poll_dry(World& w, Stack& s) {
  for (int i = 0; i < 256; ++i) {
    const std::size_t n = s.poll(w.now, MutBytes(w.out, sizeof w.out));
    if (!n) return;
    check_frame(Bytes(w.out, n));
  }
  std::abort();  // poll never ran dry
}

void send(World& w, int which, const std::uint8_t* d, std::size_t n) {
  if (n < 7) return;
  Stack& s = *w.stacks[which];
  const SocketId id = w.sockets[which][d[0] & 7];
  const Ipv4Addr dst{load32(d + 1)};
  const std::uint16_t port = load16(d + 5);
  const Bytes payload(d + 7, n - 7);
  auto r = s.send_udp(w.now, id, dst, port, payload, MutBytes(w.out, sizeof w.out));
  if (r.ok() && r.value().kind == Sent::Kind::kFrame) {
    check_frame(Bytes(w.out, r.value().size));
    auto e = parse_ethernet(Bytes(w.out, r.value().size));
    auto ip = parse_ipv4(e.value().payload);
    auto u = parse_udp(ip.value());
    if (!u || u.value().payload.size() != payload.size() ||
        (payload.size() && std::memcmp(u.value().payload.data(), payload.data(), payload.size()) != 0))
      std::abort();
    if (ip.value().dst != dst) std::abort();
  } else if (r.ok() && r.value().kind == Sent::Kind::kAwaitingArp) {
    check_frame(Bytes(w.out, r.value().size));
  }
  check_bounds(s);
}

// ---- seeds

using Bytes8 = std::vector<std::uint8_t>;
void p16(Bytes8& f, std::uint32_t v) {
  f.push_back(static_cast<std::uint8_t>(v >> 8));
  f.push_back(static_cast<std::uint8_t>(v));
}
void p32(Bytes8& f, std::uint32_t v) {
  p16(f, v >> 16);
  p16(f, v & 0xffff);
}
Bytes8 eth(const MacAddr& dst, std::uint16_t type) {
  Bytes8 f(dst.b.begin(), dst.b.end());
  f.insert(f.end(), kPeer.b.begin(), kPeer.b.end());
  p16(f, type);
  return f;
}
// IPv4 + L4 with zero checksums (the seed records set op & 8 so the harness fixes them).
Bytes8 ip_frame(const MacAddr& dst_mac, Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto, const Bytes8& l4) {
  Bytes8 f = eth(dst_mac, kEtherIpv4);
  f.push_back(0x45);
  f.push_back(0);
  p16(f, static_cast<std::uint32_t>(20 + l4.size()));
  p16(f, 1);
  p16(f, 0x4000);
  f.push_back(64);
  f.push_back(proto);
  p16(f, 0);
  p32(f, src.value);
  p32(f, dst.value);
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}
Bytes8 udp(std::uint16_t sport, std::uint16_t dport, const Bytes8& payload) {
  Bytes8 u;
  p16(u, sport);
  p16(u, dport);
  p16(u, static_cast<std::uint32_t>(8 + payload.size()));
  p16(u, 0);
  u.insert(u.end(), payload.begin(), payload.end());
  return u;
}
Bytes8 dhcp(std::uint8_t type, std::initializer_list<std::uint8_t> extra) {
  Bytes8 m(236, 0);
  m[0] = 2;
  m[1] = 1;
  m[2] = 6;
  for (int i = 0; i < 4; ++i) m[16 + i] = static_cast<std::uint8_t>(kUs.value >> (24 - 8 * i));
  p32(m, 0x63825363);
  const std::uint8_t base[] = {53, 1, type, 54, 4, 10, 0, 2, 2, 51, 4, 0, 0, 0x0e, 0x10, 1, 4, 255, 255, 255, 0, 3, 4, 10, 0, 2, 2};
  m.insert(m.end(), base, base + sizeof base);
  m.insert(m.end(), extra);
  m.push_back(255);
  return m;
}
void record(Bytes8& in, std::uint8_t op, const Bytes8& body) {
  in.push_back(op);
  p16(in, static_cast<std::uint32_t>(body.size()));
  in.insert(in.end(), body.begin(), body.end());
}

void write_seed(const std::string& dir, const std::string& name, const Bytes8& in) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::fprintf(stderr, "net_frame_fuzz: cannot write %s\n", path.c_str());
    std::exit(1);
  }
  if (!in.empty()) std::fwrite(in.data(), 1, in.size(), f);
  std::fclose(f);
}

void write_seeds(const std::string& dir) {
  Bytes8 arp = eth(MacAddr::broadcast(), kEtherArp);
  const std::uint8_t a[] = {0, 1, 8, 0, 6, 4, 0, 1};
  arp.insert(arp.end(), a, a + sizeof a);
  arp.insert(arp.end(), kPeer.b.begin(), kPeer.b.end());
  p32(arp, kGateway.value);
  arp.insert(arp.end(), 6, 0);
  p32(arp, kUs.value);
  Bytes8 in;
  record(in, 0, arp);
  write_seed(dir, "arp-request", in);

  Bytes8 echo = {8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
  in.clear();
  record(in, 8, ip_frame(kOurs, kGateway, kUs, kProtoIcmp, echo));
  write_seed(dir, "icmp-echo", in);

  in.clear();
  record(in, 8, ip_frame(kOurs, kGateway, kUs, kProtoUdp, udp(9, 7000, {'h', 'i'})));
  record(in, 8, ip_frame(kOurs, Ipv4Addr::of(198, 51, 100, 7), kUs, kProtoUdp, udp(51820, 51820, {1, 0, 0, 0})));
  write_seed(dir, "udp-delivered", in);

  // send: ARP miss, the gateway's answer, the queued frame, then a direct send.
  in.clear();
  Bytes8 s = {0};
  p32(s, kGateway.value);
  p16(s, 9);
  s.push_back('x');
  record(in, 2, s);
  Bytes8 reply = eth(kOurs, kEtherArp);
  const std::uint8_t r[] = {0, 1, 8, 0, 6, 4, 0, 2};
  reply.insert(reply.end(), r, r + sizeof r);
  reply.insert(reply.end(), kPeer.b.begin(), kPeer.b.end());
  p32(reply, kGateway.value);
  reply.insert(reply.end(), kOurs.b.begin(), kOurs.b.end());
  p32(reply, kUs.value);
  record(in, 0, reply);
  record(in, 4, {0, 0, 0, 1});
  record(in, 2, s);
  write_seed(dir, "send-resolve", in);

  // DHCP: offer, REQUEST (poll), ACK, then T1 (poll far ahead).
  in.clear();
  record(in, 1 | 8 | 16, ip_frame(kOurs, kGateway, kUs, kProtoUdp, udp(67, 68, dhcp(2, {}))));
  record(in, 4, {0, 0, 0, 1});
  record(in, 1 | 8 | 16, ip_frame(MacAddr::broadcast(), kGateway, Ipv4Addr::broadcast(), kProtoUdp, udp(67, 68, dhcp(5, {58, 4, 0, 0, 0, 10}))));
  record(in, 4, {0, 0, 0x30, 0});
  write_seed(dir, "dhcp-exchange", in);

  in.clear();
  record(in, 5, {0, 2, 0, 0});
  record(in, 6, {0, 1});
  record(in, 7, {1, 1});
  write_seed(dir, "bind-close", in);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("NET_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  World& w = world();
  w.reset();
  static std::uint8_t frame[kMaxFrame + 64];
  std::size_t i = 0;
  while (i < size) {
    const std::uint8_t op = data[i++];
    std::size_t len = 0;
    if (i + 2 <= size) len = std::size_t{data[i]} << 8 | data[i + 1];
    i += 2;
    if (i > size) i = size;
    if (len > size - i) len = size - i;
    const std::uint8_t* body = data + i;
    i += len;
    w.now += 1000;
    switch (op & 7) {
      case 0:
      case 1: {
        const std::size_t n = len < sizeof frame ? len : sizeof frame;
        std::memcpy(frame, body, n);
        frame_in(w, op & 1, op, frame, n);
        break;
      }
      case 2:
      case 3: send(w, (op & 7) - 2, body, len); break;
      case 4: {
        std::uint32_t dt = 0;
        for (std::size_t k = 0; k < len && k < 4; ++k) dt = dt << 8 | body[k];
        w.now += std::uint64_t{dt} * 1024;
        poll_dry(w, *w.stacks[0]);
        poll_dry(w, *w.stacks[1]);
        break;
      }
      case 5:
        if (len >= 4) {
          const int which = body[0] & 1;
          auto r = w.stacks[which]->bind(body[1] & 3, load16(body + 2));
          if (r.ok()) w.sockets[which][4 + (body[1] & 3)] = r.value();
        }
        break;
      case 6:
        if (len >= 2) (void)w.stacks[body[0] & 1]->close(w.sockets[body[0] & 1][body[1] & 7]);
        break;
      case 7:
        if (len >= 2) (void)w.stacks[body[0] & 1]->close_component(body[1] & 3);
        break;
    }
  }
  poll_dry(w, *w.stacks[0]);
  poll_dry(w, *w.stacks[1]);
  return 0;
}
