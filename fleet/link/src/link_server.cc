// The device link server: packet intake, shards, sessions and authentication. What a session's
// messages do to the store is in handlers.cc (the Shard's message methods), consoles and proxy
// streams in streams.cc. One file (~640 lines) for the rest on purpose: intake, the shard loop, its
// deadline set and session replacement all act on the shard's connection table under its one
// thread, and the lifetime rules of a Conn (created, replaced, cut, timed out) are read together.
#include "shard.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace keel::link {

using namespace std::chrono;
namespace ctl = keel::control;

uint64_t SteadyClock::now_ns() {
  return uint64_t(duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count());
}
void SodiumRandom::fill(ctl::MutBytes out) { randombytes_buf(out.data(), out.size()); }

int64_t wall_ms() { return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count(); }

// ---- the shared block pool --------------------------------------------------------------------

LinkServer::Pool::Pool(size_t n) : n_(n), reserve_(std::max<size_t>(1, (n + 3) / 4)), mem_(n) {
  free_.reserve(n);
  for (size_t i = 0; i < n; ++i) free_.push_back(&mem_[i]);
}
void* LinkServer::Pool::acquire(ctl::BlockUse use) {
  std::lock_guard<std::mutex> g(mu_);
  if (use != ctl::BlockUse::SentRing && free_.size() <= reserve_) return nullptr;
  if (free_.empty()) return nullptr;
  void* b = free_.back();
  free_.pop_back();
  return b;
}
void LinkServer::Pool::release(void* b) {
  std::lock_guard<std::mutex> g(mu_);
  free_.push_back(static_cast<Block*>(b));
}
ctl::Stream* LinkServer::Pool::acquire_stream() {
  std::lock_guard<std::mutex> g(mu_);
  if (!free_streams_) {
    stream_slabs_.push_back(std::make_unique<StreamSlot[]>(kStreamSlab));
    StreamSlot* slab = stream_slabs_.back().get();
    for (size_t i = 0; i < kStreamSlab; ++i) slab[i].next = i + 1 < kStreamSlab ? &slab[i + 1] : nullptr;
    free_streams_ = slab;
  }
  StreamSlot* slot = free_streams_;
  free_streams_ = slot->next;
  return new (&slot->stream) ctl::Stream{};
}
void LinkServer::Pool::release_stream(ctl::Stream* s) {
  std::lock_guard<std::mutex> g(mu_);
  auto* slot = reinterpret_cast<StreamSlot*>(s);
  slot->next = free_streams_;
  free_streams_ = slot;
}
bool LinkServer::Pool::buffers_free() const {
  std::lock_guard<std::mutex> g(mu_);
  return free_.size() > reserve_;
}
size_t LinkServer::Pool::in_use() const {
  std::lock_guard<std::mutex> g(mu_);
  return n_ - free_.size();
}

// ---- the server ---------------------------------------------------------------------------------

LinkServer::LinkServer(LinkConfig cfg, OpenDb open_db, ChangeSink changes)
    : cfg_(std::move(cfg)),
      open_db_(std::move(open_db)),
      changes_(std::move(changes)),
      counters_(std::make_unique<Counters>()),
      pool_(std::make_unique<Pool>(std::max<size_t>(cfg_.pool_blocks, 8))) {
  if (cfg_.shards < 1) cfg_.shards = 1;
  for (int i = 0; i < cfg_.shards; ++i) shards_.push_back(std::make_unique<Shard>(*this, i));
  proxies_ = std::make_unique<ProxyHub>(cfg_.proxy_connect_timeout);
}

LinkServer::~LinkServer() { stop(); }

void LinkServer::start(gateway::Gateway& gw) {
  if (running_.exchange(true)) return;
  if (cfg_.mark_offline_at_start) {
    try {
      auto db = open_db_();
      fleet::mark_all_devices_offline(*db, wall_ms());
    } catch (const std::exception& e) {
      spdlog::warn("device link: marking devices offline at start failed: {}", e.what());
    }
  }
  proxies_->start();
  for (auto& s : shards_) s->start(gw);
}

void LinkServer::stop() {
  if (!running_.exchange(false)) return;
  for (auto& s : shards_) s->stop();  // ends every console and proxy of their sessions
  proxies_->stop();
}

size_t LinkServer::proxy_connections() const { return proxies_->connections(); }

void LinkServer::poke_commands() {
  for (auto& s : shards_) s->poke();
}

size_t LinkServer::sessions() const {
  size_t n = 0;
  for (auto& s : shards_) n += s->session_count();
  return n;
}
size_t LinkServer::blocks_in_use() const { return pool_->in_use(); }

LinkStats LinkServer::stats() const {
  const Counters& c = *counters_;
  LinkStats s;
  s.packets = c.packets, s.bad_packets = c.bad_packets, s.queue_dropped = c.queue_dropped;
  s.sessions = c.sessions, s.sessions_replaced = c.sessions_replaced, s.version_refusals = c.version_refusals;
  s.session_rate_limited = c.session_rate_limited;
  s.auth_ok = c.auth_ok, s.auth_failed = c.auth_failed, s.protocol_errors = c.protocol_errors;
  s.commands_sent = c.commands_sent, s.results_recorded = c.results_recorded, s.results_duplicate = c.results_duplicate;
  s.serial_lines = c.serial_lines, s.trace_events = c.trace_events, s.status_reports = c.status_reports;
  s.store_errors = c.store_errors;
  s.throttled = c.throttled;
  s.consoles_opened = c.consoles_opened, s.consoles_refused = c.consoles_refused;
  s.proxies_opened = c.proxies_opened, s.proxies_refused = c.proxies_refused;
  s.proxy_bytes_up = c.proxy_bytes_up, s.proxy_bytes_down = c.proxy_bytes_down;
  s.timers_fired = c.timers_fired;
  return s;
}

// Checks the inner packet (the gateway checked its source address): IPv4, no options needed, not
// a fragment, UDP, lengths consistent, to Fleet's address and the link's port. WireGuard pads the
// plaintext, so the IP total length may be shorter than the buffer, never longer.
void LinkServer::on_inner(uint32_t peer_id, wg::MutBytes p) {
  ++counters_->packets;
  auto bad = [&] { ++counters_->bad_packets; };
  if (p.size() < 28 || (p[0] >> 4) != 4) return bad();
  const size_t ihl = size_t(p[0] & 0x0f) * 4;
  const size_t total = size_t(p[2]) << 8 | p[3];
  if (ihl < 20 || total > p.size() || total < ihl + 8) return bad();
  if ((p[6] & 0x3f) != 0 || p[7] != 0 || (p[6] & 0x20)) return bad();  // MF or an offset: a fragment
  if (p[9] != 17) return bad();
  if (std::memcmp(&p[16], cfg_.fleet_address, 4) != 0) return bad();
  const uint8_t* u = &p[ihl];
  const uint16_t dport = uint16_t(u[2] << 8 | u[3]);
  const size_t ulen = size_t(u[4]) << 8 | u[5];
  if (dport != cfg_.port || ulen != total - ihl) return bad();
  const size_t n = ulen - 8;
  if (n == 0 || n > 65535) return bad();
  Item it;
  it.peer = peer_id;
  std::memcpy(it.src_ip, &p[12], 4);
  it.src_port = uint16_t(u[0] << 8 | u[1]);
  it.payload.assign(u + 8, u + 8 + n);
  if (!shards_[peer_id % shards_.size()]->push(std::move(it))) ++counters_->queue_dropped;
}

Result<void, std::string> fleet_inner_address(const std::string& prefix, LinkConfig& cfg) {
  const auto slash = prefix.find('/');
  const std::string addr = prefix.substr(0, slash);
  in_addr a{};
  if (inet_pton(AF_INET, addr.c_str(), &a) != 1)
    return Err{"the device link needs an IPv4 tunnel prefix (got '" + prefix + "')"};
  uint32_t v = ntohl(a.s_addr) + 1;
  for (int i = 0; i < 4; ++i) cfg.fleet_address[i] = uint8_t(v >> (24 - 8 * i));
  return {};
}

// ---- a shard --------------------------------------------------------------------------------

LinkServer::Shard::Shard(LinkServer& srv, int index)
    : srv_(srv), c_(*srv.counters_), index_(index), ctx_{clock_, *srv.pool_} {
  ctx_.timing.idle_timeout = uint64_t(duration_cast<nanoseconds>(srv.cfg_.idle_timeout).count());
  ctx_.max_stream_blocks = srv.cfg_.session_stream_blocks;
}

LinkServer::Shard::~Shard() { stop(); }

void LinkServer::Shard::start(gateway::Gateway& gw) {
  gw_ = &gw;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void LinkServer::Shard::stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LinkServer::Shard::poke() {
  {
    std::lock_guard<std::mutex> g(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

bool LinkServer::Shard::push(Item&& it) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (q_.size() >= srv_.cfg_.shard_queue_packets) return false;
    uint32_t& n = queued_[it.peer];
    if (n >= srv_.cfg_.device_queue_packets) return false;
    ++n;
    q_.push_back(std::move(it));
  }
  cv_.notify_one();
  return true;
}

size_t LinkServer::Shard::session_count() const { return nsessions_.load(); }

void LinkServer::Shard::run() {
  const auto poll_every = srv_.cfg_.command_poll, check_every = srv_.cfg_.peer_check;
  auto next_poll = steady_clock::now() + poll_every, next_check = steady_clock::now() + check_every;
  std::deque<Item> work;
  std::set<uint32_t> woken;
  std::vector<std::shared_ptr<ConsoleRequest>> reqs;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(mu_);
      auto wake = std::min(next_poll, next_check);
      if (!deadlines_.empty()) {
        const auto d = steady_clock::time_point(nanoseconds(deadlines_.begin()->first));
        wake = std::min(wake, d);
      }
      if (flush_due_) wake = std::min(wake, steady_clock::time_point(nanoseconds(flush_due_)));
      if (!starved_.empty()) wake = std::min(wake, steady_clock::now() + nanoseconds(kStarvedRetry));
      cv_.wait_until(lk, wake,
                     [&] { return stop_ || !q_.empty() || poked_ || !woken_.empty() || !console_reqs_.empty(); });
      if (stop_) break;
      work.swap(q_);
      queued_.clear();
      woken.swap(woken_);
      reqs.swap(console_reqs_);
      if (poked_) next_poll = steady_clock::now();
      poked_ = false;
    }
    for (auto& it : work) handle_datagram(it);
    work.clear();
    for (auto& r : reqs) open_console(*r);
    reqs.clear();
    for (uint32_t peer : woken)
      if (auto it = conns_.find(peer); it != conns_.end()) service(*it->second);
    woken.clear();
    fire_timers();
    const auto now = steady_clock::now();
    if (now >= next_poll) {
      poll_commands();
      next_poll = now + poll_every;
    }
    if (now >= next_check) {
      check_peers();
      next_check = now + check_every;
    }
    retry_starved();
    if (flush_due_ && clock_.now_ns() >= flush_due_) flush_writes();
  }
  // Stopping: every live session's device goes offline; its consoles and proxies end.
  for (auto& [peer, c] : conns_) {
    release_streams(*c, "device offline");
    if (c->authed) device_offline(*c);
  }
  flush_writes();
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& r : console_reqs_) r->reply(fleet::ConsoleOpen::offline);
    console_reqs_.clear();
  }
  conns_.clear();
  deadlines_.clear();
  nsessions_ = 0;
}

void LinkServer::Shard::handle_datagram(Item& it) {
  ctl::Bytes d{it.payload.data(), it.payload.size()};
  auto sid = ctl::peek_session_id(d);
  if (!sid.ok()) {
    ++c_.bad_packets;
    return;
  }
  auto found = conns_.find(it.peer);
  Conn* c = found == conns_.end() ? nullptr : found->second.get();
  if (!c || c->sid != sid.value()) {
    auto acc = ctl::Session::accept(d);
    if (!acc.ok()) {
      if (acc.error() == ctl::Error::VersionUnsupported) {
        uint8_t out[256];
        const size_t n = ctl::Session::version_refusal(d, out);
        if (n) {
          ++c_.version_refusals;
          send_datagram(it.peer, it.src_ip, it.src_port, {out, n});
        }
      } else {
        ++c_.bad_packets;  // a short header for a session this side does not hold: dropped
      }
      return;
    }
    const uint64_t now = clock_.now_ns();
    PeerState& ps = peers_[it.peer];
    const uint64_t min_gap = uint64_t(duration_cast<nanoseconds>(srv_.cfg_.min_new_session).count());
    if (ps.last_new_session && now - ps.last_new_session < min_gap) {
      ++c_.session_rate_limited;  // the device retries its first packet; a flood costs one query per interval
      return;
    }
    ps.last_new_session = now;
    std::optional<Conn::Device> prev;
    if (c) {
      ++c_.sessions_replaced;
      if (c->authed || c->was_online) prev = c->dev;
      drop(it.peer, /*offline=*/false);  // the device stays online while its new session starts
    }
    c = new_conn(it, acc.value(), prev);
    if (!c) return;
  }
  std::memcpy(c->src_ip, it.src_ip, 4);
  c->src_port = it.src_port;
  ctl::Address from;
  from.family = 4;
  from.port = it.src_port;
  std::memcpy(from.addr, it.src_ip, 4);
  auto r = c->s->receive(d, from);
  if (!r.ok() && c->s->state() != ctl::State::Open) ++c_.protocol_errors;
  if (c->authed) {
    const uint64_t now = clock_.now_ns();
    if (now - c->last_seen_written > uint64_t(duration_cast<nanoseconds>(srv_.cfg_.last_seen_interval).count())) {
      c->last_seen_written = now;
      queue_write(Write::touch, c->dev.id);
    }
  }
  service(*c);
}

LinkServer::Shard::Conn* LinkServer::Shard::new_conn(const Item& it, uint64_t sid,
                                                     const std::optional<Conn::Device>& prev) {
  auto c = std::make_unique<Conn>();
  c->peer = it.peer;
  c->sid = sid;
  if (prev) {
    c->was_online = true;
    c->dev = *prev;
  }
  c->started = clock_.now_ns();
  c->s.emplace(ctx_, ctl::Role::Server, sid);
  // The device behind this tunnel key, fresh from the store for every session (a decommissioned
  // or re-keyed device is refused at once, not after a cache expires).
  const wg::Key& tunnel = gw_->table().at(it.peer).wg.remote_static;
  char b64[45];
  wg::key_to_base64(tunnel, b64);
  uint8_t identity[ctl::kKeyLen] = {};
  std::optional<fleet::LinkDevice> dev;
  bool ok = store([&](fleet::Db& db) { dev = fleet::find_link_device(db, b64); });
  if (!ok) return nullptr;  // the store is unavailable: drop; the device retries
  if (dev) {
    c->dev = {dev->id, dev->organization_id, dev->serial_next};
    size_t len = 0;
    c->known = sodium_base642bin(identity, sizeof identity, dev->identity_public_key.data(),
                                 dev->identity_public_key.size(), nullptr, &len, nullptr,
                                 sodium_base64_VARIANT_ORIGINAL) == 0 &&
               len == sizeof identity;  // cannot fail for a key the API accepted; refuse rather than guess
  }
  c->auth = std::make_unique<ctl::AuthServer>(sid, gw_->public_key().data(), tunnel.data(), identity);
  ++c_.sessions;
  Conn* raw = c.get();
  conns_[it.peer] = std::move(c);
  nsessions_ = conns_.size();
  if (raw->was_online && !raw->known) {  // the device is gone from the registry: its old session too
    device_offline(*raw);
    raw->was_online = false;
  }
  return raw;
}

// After anything that may have produced input or output: read streams, act on messages, write
// what is pending, send, reschedule; drop the session once it is closed.
void LinkServer::Shard::service(Conn& c) {
  for (;;) {
    auto a = c.s->accept_stream();
    if (!a.ok()) break;
    if (c.streams.size() >= ctl::kMaxStreams) continue;
    Conn::In in;
    in.id = a.value();
    c.streams.push_back(std::move(in));
  }
  for (size_t i = 0; i < c.streams.size() && c.s->state() == ctl::State::Open; ++i) read_stream(c, c.streams[i]);
  if (c.s->state() == ctl::State::Open) service_streams(c);
  // Forget streams the session has freed (a proxy's connection with them).
  std::erase_if(c.streams, [&](Conn::In& in) {
    if (c.s->stream_open(in.id)) return false;
    if (in.proxy) proxy_device_closed(c, in, "stream freed");
    return true;
  });
  flush(c);
  const uint64_t now = clock_.now_ns();
  if (!c.authed && c.s->state() == ctl::State::Open &&
      now - c.started > uint64_t(duration_cast<nanoseconds>(srv_.cfg_.auth_timeout).count())) {
    auth_failed(c, ctl::Error::AuthState, "no authentication in time");
  }
  if (c.s->state() == ctl::State::Closed) {
    drop(c.peer, true);
    return;
  }
  schedule(c);
}

void LinkServer::Shard::read_stream(Conn& c, Conn::In& in) {
  static constexpr size_t kCap = ctl::kMaxMessage + ctl::kMessageHeader;
  // Messages are cut from the shard's scratch buffer; only an incomplete one's bytes stay with the
  // stream (link.session.bytes: a 4 KiB buffer per idle device was two thirds of Fleet's memory
  // for it). Handlers do not read streams, so the one scratch buffer is never in use twice.
  scratch_.resize(kCap);
  size_t have = in.buf.size();
  std::copy(in.buf.begin(), in.buf.end(), scratch_.begin());
  size_t used = 0;
  auto keep_rest = [&] {
    in.buf.assign(scratch_.begin() + ptrdiff_t(used), scratch_.begin() + ptrdiff_t(have));
    if (in.buf.empty()) in.buf.shrink_to_fit();
  };
  for (;;) {
    if (have < kCap) {
      bool fin = false;
      auto r = c.s->read(in.id, {scratch_.data() + have, kCap - have}, fin);
      have += r.ok() ? r.value() : 0;
      if (fin || (!r.ok() && r.error() == ctl::Error::StreamReset)) in.fin = true;
    }
    bool progressed = false;
    while (c.s->state() == ctl::State::Open) {
      auto m = ctl::next_message({scratch_.data() + used, have - used});
      if (!m.ok()) {
        ++c_.protocol_errors;
        c.s->close(m.error());
        in.buf.clear();
        in.buf.shrink_to_fit();
        return;
      }
      if (m.value().size == 0) break;
      const auto t = m.value().type;
      const bool writes = c.authed && (t == ctl::MsgType::Status || t == ctl::MsgType::Serial ||
                                       t == ctl::MsgType::Trace || t == ctl::MsgType::CommandResult ||
                                       t == ctl::MsgType::ProxyOpen);
      if (writes && !take_store_token(c)) {
        keep_rest();
        return;  // the rest waits in the buffer (and the session's window) until a token is due
      }
      if (!on_stream_message(c, in, m.value())) {  // back-pressure (a proxy's queue is full)
        keep_rest();
        return;
      }
      used += m.value().size;
      progressed = true;
    }
    // Move what is left (an incomplete message) to the front for the next read.
    std::memmove(scratch_.data(), scratch_.data() + used, have - used);
    have -= used;
    used = 0;
    if (!progressed || c.s->state() != ctl::State::Open || c.s->readable(in.id) == 0) {
      keep_rest();
      return;
    }
  }
}

void LinkServer::Shard::retry_starved() {
  for (size_t n = starved_.size(); n > 0 && srv_.pool_->buffers_free(); --n) {
    const uint32_t peer = starved_.front();
    starved_.pop_front();
    auto it = conns_.find(peer);
    if (it == conns_.end() || !it->second->starved) continue;  // gone, or a new session since
    it->second->starved = false;
    service(*it->second);  // flushes out0 (starved again if it still does not fit)
  }
}

void LinkServer::Shard::write_message(Conn& c, ctl::Bytes msg) {
  if (c.out0.size() + msg.size() > kMaxOut) return;  // bounded; commands are resent next session
  c.out0.insert(c.out0.end(), msg.begin(), msg.end());
}

void LinkServer::Shard::flush(Conn& c) {
  while (!c.out0.empty() && c.s->state() == ctl::State::Open) {
    auto w = c.s->write(0, {c.out0.data(), c.out0.size()});
    if (!w.ok() || w.value() == 0) break;
    c.out0.erase(c.out0.begin(), c.out0.begin() + ptrdiff_t(w.value()));
  }
  if (c.out0.empty() && c.out0.capacity()) std::vector<uint8_t>().swap(c.out0);  // an idle device keeps no buffer
  if (!c.out0.empty() && c.s->state() == ctl::State::Open && !c.starved) {
    c.starved = true;
    starved_.push_back(c.peer);
  }
  uint8_t buf[1500];
  for (size_t n; (n = c.s->poll_send({buf + 28, sizeof buf - 28})) != 0;)
    send_datagram(c.peer, c.src_ip, c.src_port, {buf + 28, n}, buf);
}

// IPv4 + UDP around a control-protocol datagram, from Fleet's address and port to the device's.
// `room` (if given) has 28 bytes free before the payload; otherwise the payload is copied.
void LinkServer::Shard::send_datagram(uint32_t peer, const uint8_t dst[4], uint16_t dport, ctl::Bytes payload,
                                      uint8_t* room) {
  uint8_t local[1500];
  uint8_t* p = room;
  if (!p) {
    if (payload.size() > sizeof local - 28) return;
    p = local;
    std::memcpy(p + 28, payload.data(), payload.size());
  }
  const size_t total = 28 + payload.size();
  std::memset(p, 0, 28);
  p[0] = 0x45;
  p[2] = uint8_t(total >> 8), p[3] = uint8_t(total);
  p[6] = 0x40;  // DF
  p[8] = 64, p[9] = 17;
  std::memcpy(p + 12, srv_.cfg_.fleet_address, 4);
  std::memcpy(p + 16, dst, 4);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const uint16_t ck = uint16_t(~sum);
  p[10] = uint8_t(ck >> 8), p[11] = uint8_t(ck);
  uint8_t* u = p + 20;
  u[0] = uint8_t(srv_.cfg_.port >> 8), u[1] = uint8_t(srv_.cfg_.port);
  u[2] = uint8_t(dport >> 8), u[3] = uint8_t(dport);
  const size_t ulen = 8 + payload.size();
  u[4] = uint8_t(ulen >> 8), u[5] = uint8_t(ulen);
  // UDP checksum 0 (none): allowed over IPv4, and WireGuard authenticates every byte anyway.
  (void)gw_->send_to(peer, {p, total});
}

bool LinkServer::Shard::take_store_token(Conn& c) {
  const uint64_t now = clock_.now_ns();
  const uint64_t per = ctl::kSec / std::max<uint32_t>(1, srv_.cfg_.store_messages_per_s);
  const uint64_t cap = per * std::max<uint32_t>(1, srv_.cfg_.store_messages_burst);
  if (!c.tokens_at) c.tokens = cap;
  else c.tokens = std::min(cap, c.tokens + (now - c.tokens_at));
  c.tokens_at = now;
  if (c.tokens >= per) {
    c.tokens -= per;
    c.throttled_until = 0;
    return true;
  }
  if (!c.throttled_until) ++c_.throttled;
  c.throttled_until = now + (per - c.tokens);
  return false;
}

void LinkServer::Shard::schedule(Conn& c) {
  if (c.deadline) deadlines_.erase({c.deadline, c.peer});
  uint64_t d = c.s->next_deadline();
  if (c.throttled_until && (d == 0 || c.throttled_until < d)) d = c.throttled_until;
  // The authentication deadline only while it can still fire: once the session closes (at that
  // deadline or for any other reason) it would stay in the past and fire_timers would spin on it
  // for as long as the session drains, stalling every other session of the shard.
  if (!c.authed && c.s->state() == ctl::State::Open) {
    const uint64_t a = c.started + uint64_t(duration_cast<nanoseconds>(srv_.cfg_.auth_timeout).count()) + 1;
    if (d == 0 || a < d) d = a;
  }
  c.deadline = d;
  if (d) deadlines_.insert({d, c.peer});
}

void LinkServer::Shard::fire_timers() {
  const uint64_t now = clock_.now_ns();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const uint32_t peer = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = conns_.find(peer);
    if (it == conns_.end()) continue;
    Conn& c = *it->second;
    ++c_.timers_fired;
    c.deadline = 0;
    c.s->tick();
    service(c);
  }
}

void LinkServer::Shard::drop(uint32_t peer, bool offline) {
  auto it = conns_.find(peer);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (c.deadline) deadlines_.erase({c.deadline, peer});
  release_streams(c, "device offline");
  if (offline && (c.authed || c.was_online)) device_offline(c);
  if (c.authed) by_device_.erase(c.dev.id);
  conns_.erase(it);
  nsessions_ = conns_.size();
}

// Sessions of peers the gateway no longer knows (decommissioned: refresh() deactivated them) are
// closed and their devices marked offline.
void LinkServer::Shard::check_peers() {
  std::vector<uint32_t> gone;
  for (auto& [peer, c] : conns_)
    if (!gw_->table().at(peer).active.load(std::memory_order_acquire)) gone.push_back(peer);
  for (uint32_t peer : gone) {
    Conn& c = *conns_[peer];
    c.s->close(ctl::Error::AuthUnknownDevice);
    flush(c);
    drop(peer, true);
  }
}

bool LinkServer::Shard::store(const std::function<void(fleet::Db&)>& f) {
  try {
    if (!db_) db_ = srv_.open_db_();
    f(*db_);
    return true;
  } catch (const std::exception& e) {
    ++c_.store_errors;
    db_.reset();  // reopened for the next call (a broken PostgreSQL connection)
    if (limiter_.allow(clock_.now_ns())) spdlog::warn("device link: store: {}", e.what());
    return false;
  }
}

bool LogLimiter::allow(uint64_t now) {
  if (now - window_start_ > 10 * ctl::kSec) {
    window_start_ = now;
    if (suppressed_) spdlog::warn("device link: {} more messages suppressed", suppressed_);
    suppressed_ = 0;
    n_ = 0;
  }
  if (n_ < 20) {
    ++n_;
    return true;
  }
  ++suppressed_;
  return false;
}

}  // namespace keel::link
