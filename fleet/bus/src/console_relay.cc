#include "keel/bus/console_relay.h"

#include <nlohmann/json.hpp>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>

namespace keel::bus {

using clock = std::chrono::steady_clock;
using fleet::ConsoleBridge;
using fleet::ConsoleOpen;

namespace {

constexpr size_t kChunk = 16 * 1024;  // data bytes per frame
constexpr size_t kReasonMax = 120;    // a websocket close reason holds 123 bytes

void put_le(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(std::string_view s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(static_cast<uint8_t>(s[at + i])) << (8 * i);
  return v;
}

std::string random_cid() {
  uint8_t id[8];
  randombytes_buf(id, sizeof id);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (uint8_t x : id) s += {hex[x >> 4], hex[x & 15]};
  return s;
}

bool valid_cid(std::string_view s) {
  if (s.size() != 16) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A peer's reason, as far as it is printable ASCII, at most kReasonMax bytes.
std::string clean_reason(std::string_view r) {
  std::string s;
  for (char c : r.substr(0, kReasonMax)) s.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return s.empty() ? "ended" : s;
}

}  // namespace

struct ConsoleRelay::Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  bool closed = false;
  void post(std::function<void()> t) {
    {
      std::lock_guard lk(mu);
      if (closed) return;
      tasks.push_back(std::move(t));
    }
    cv.notify_one();
  }
};

struct ConsoleRelay::Console {
  std::string cid;
  bool api_side = false;
  std::shared_ptr<ConsoleBridge> bridge;
  std::unique_ptr<Bus::Subscription> sub;  // the peer's frames
  std::string tx_tail;                     // where this side's frames go
  size_t window = 0;                       // what the peer's bridge holds: our credit
  uint32_t tx_seq = 0, rx_seq = 0;
  uint64_t sent = 0, peer_consumed = 0;    // our data bytes; what the peer reported passed on
  uint64_t received = 0, reported = 0;     // the peer's data bytes; what we reported passed on
  std::string pending;                     // link side: output taken from the bridge, not yet sent
  clock::time_point last_rx, last_tx;
};

ConsoleRelay::ConsoleRelay(Bus& bus, RelayConfig cfg) : bus_(bus), cfg_(cfg), inbox_(std::make_shared<Inbox>()) {
  thread_ = std::thread([this] { run(); });
}

ConsoleRelay::~ConsoleRelay() {
  open_sub_.reset();  // no new consoles
  post([this] {
    std::vector<std::string> all;
    {
      std::lock_guard lk(mu_);
      for (auto& [cid, c] : consoles_) all.push_back(cid);
    }
    for (auto& cid : all) finish(cid, "device link unreachable", "Fleet process stopping", false);
  });
  {
    std::lock_guard lk(inbox_->mu);
    inbox_->closed = true;  // the tasks queued so far still run
  }
  inbox_->cv.notify_one();
  thread_.join();
}

void ConsoleRelay::post(std::function<void()> task) { inbox_->post(std::move(task)); }

void ConsoleRelay::run() {
  auto next_tick = clock::now() + std::chrono::seconds(1);
  std::unique_lock lk(inbox_->mu);
  for (;;) {
    inbox_->cv.wait_until(lk, next_tick, [&] { return !inbox_->tasks.empty() || inbox_->closed; });
    while (!inbox_->tasks.empty()) {
      auto t = std::move(inbox_->tasks.front());
      inbox_->tasks.pop_front();
      lk.unlock();
      t();
      lk.lock();
    }
    if (inbox_->closed) break;
    if (clock::now() >= next_tick) {
      lk.unlock();
      tick();
      lk.lock();
      next_tick = clock::now() + std::chrono::seconds(1);
    }
  }
}

std::shared_ptr<ConsoleRelay::Console> ConsoleRelay::find(const std::string& cid) const {
  std::lock_guard lk(mu_);
  auto it = consoles_.find(cid);
  return it == consoles_.end() ? nullptr : it->second;
}

size_t ConsoleRelay::active() const {
  std::lock_guard lk(mu_);
  return consoles_.size();
}

RelayStats ConsoleRelay::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

void ConsoleRelay::send(Console& c, char kind, std::string_view body) {
  std::string f(1, kind);
  f += body;
  bus_.publish(c.tx_tail, f);
  c.last_tx = clock::now();
}

// A console's state, subscribed to the peer's frames (which go to the worker thread). The API
// side sends up and receives down, within the link's 16 KiB input; the link side the reverse,
// within the API's 64 KiB output. Null when the subscription failed.
std::shared_ptr<ConsoleRelay::Console> ConsoleRelay::make_console(const std::string& cid, bool api_side,
                                                                  std::shared_ptr<ConsoleBridge> bridge) {
  auto c = std::make_shared<Console>();
  c->cid = cid;
  c->api_side = api_side;
  c->bridge = std::move(bridge);
  c->tx_tail = "console." + cid + (api_side ? ".up" : ".down");
  c->window = api_side ? ConsoleBridge::kInputCap : ConsoleBridge::kOutputCap;
  c->last_rx = c->last_tx = clock::now();
  auto inbox = inbox_;
  c->sub = bus_.subscribe("console." + cid + (api_side ? ".down" : ".up"),
                          [this, inbox, cid](std::string_view, std::string_view frame, std::string_view) {
                            inbox->post([this, cid, f = std::string(frame)]() mutable { on_frame(cid, std::move(f)); });
                          });
  return c->sub ? c : nullptr;
}

// ---- the API side ----------------------------------------------------------------------------

ConsoleOpen ConsoleRelay::open(int64_t device_id, std::shared_ptr<ConsoleBridge> bridge) {
  const std::string cid = random_cid();
  auto c = make_console(cid, true, bridge);
  if (!c) return ConsoleOpen::offline;
  auto inbox = inbox_;
  {
    std::lock_guard lk(mu_);
    consoles_[cid] = c;
  }
  std::string answer;
  const auto r = bus_.request("device." + std::to_string(device_id) + ".console",
                              nlohmann::json{{"console", cid}}.dump(), cfg_.open_timeout, answer);
  std::string result;
  if (r == Bus::Reply::ok) {
    auto j = nlohmann::json::parse(answer, nullptr, false);
    if (j.is_object() && j.contains("result") && j["result"].is_string()) result = j["result"];
  }
  if (result == "ok") {
    bridge->set_link_wake([inbox, this, cid] { inbox->post([this, cid] { pump(cid); }); });
    {
      std::lock_guard lk(mu_);
      ++stats_.opened;
    }
    post([this, cid] { pump(cid); });
    return ConsoleOpen::ok;
  }
  {
    std::lock_guard lk(mu_);
    consoles_.erase(cid);
    ++(result == "limit" ? stats_.refused : stats_.offline);
  }
  c->sub.reset();
  return result == "limit" ? ConsoleOpen::limit : ConsoleOpen::offline;
}

// ---- the link side ---------------------------------------------------------------------------

void ConsoleRelay::serve(fleet::ConsoleOpener opener) {
  opener_ = std::move(opener);
  open_sub_ = bus_.subscribe("device.*.console", [this](std::string_view subject, std::string_view data,
                                                        std::string_view reply) {
    on_open_request(subject, data, reply);
  });
}

void ConsoleRelay::on_open_request(std::string_view subject, std::string_view data, std::string_view reply) {
  // <prefix>.device.<id>.console
  const std::string head = bus_.config().prefix + ".device.", tail = ".console";
  if (reply.empty() || subject.size() <= head.size() + tail.size() || subject.substr(0, head.size()) != head) return;
  const std::string_view id_text = subject.substr(head.size(), subject.size() - head.size() - tail.size());
  if (id_text.empty() || id_text.size() > 18 || id_text[0] == '0' ||
      !std::all_of(id_text.begin(), id_text.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    spdlog::warn("bus: console request for a malformed device id on {}", subject);
    return;
  }
  const int64_t device_id = std::stoll(std::string(id_text));
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object() || !j.contains("console") || !j["console"].is_string() ||
      !valid_cid(j["console"].get<std::string>())) {
    spdlog::warn("bus: malformed console request for device {}", device_id);
    return;
  }
  const std::string cid = j["console"];
  auto bridge = std::make_shared<ConsoleBridge>();
  auto c = make_console(cid, false, bridge);
  if (!c) return;
  auto inbox = inbox_;
  {
    std::lock_guard lk(mu_);
    if (!consoles_.emplace(cid, c).second) return;  // a repeated request: the first one stands
  }
  bridge->set_client_wake([inbox, this, cid] { inbox->post([this, cid] { pump(cid); }); });
  const ConsoleOpen r = opener_(device_id, bridge);
  if (r == ConsoleOpen::ok) {
    {
      std::lock_guard lk(mu_);
      ++stats_.opened;
    }
    bus_.publish_to(reply, R"({"result":"ok"})");
    post([this, cid] { pump(cid); });
    return;
  }
  {
    std::lock_guard lk(mu_);
    consoles_.erase(cid);
    ++(r == ConsoleOpen::limit ? stats_.refused : stats_.offline);
  }
  bridge->close_by_client();
  c->sub.reset();
  // Offline here may be online at another link process: only a holder answers.
  if (r == ConsoleOpen::limit) bus_.publish_to(reply, R"({"result":"limit"})");
}

// ---- both sides (the worker thread) ------------------------------------------------------------

void ConsoleRelay::on_frame(const std::string& cid, std::string f) {
  auto c = find(cid);
  if (!c || f.empty()) return;
  c->last_rx = clock::now();
  const char kind = f[0];
  if (kind == 'D') {
    if (f.size() < 6 || f.size() - 5 > kChunk) return finish(cid, "console relay broken", "malformed data frame", true);
    if (get_le(f, 1, 4) != c->rx_seq) return finish(cid, "console relay lost data", "data frame out of sequence", true);
    const size_t n = f.size() - 5;
    if (c->received + n - c->reported > (c->api_side ? ConsoleBridge::kOutputCap : ConsoleBridge::kInputCap))
      return finish(cid, "console relay broken", "credit exceeded", true);
    ++c->rx_seq;
    c->received += n;
    if (c->api_side) {
      if (n > c->bridge->output_room()) return finish(cid, "console relay broken", "credit exceeded", true);
      c->bridge->push_output(reinterpret_cast<const uint8_t*>(f.data() + 5), n);
    } else if (c->bridge->send_input(std::string_view(f).substr(5)) < n) {
      return finish(cid, "console relay broken", "credit exceeded", true);
    }
    std::lock_guard lk(mu_);
    (c->api_side ? stats_.bytes_down : stats_.bytes_up) += n;
  } else if (kind == 'A') {
    if (f.size() != 9) return finish(cid, "console relay broken", "malformed credit frame", true);
    const uint64_t v = get_le(f, 1, 8);
    if (v < c->peer_consumed || v > c->sent) return finish(cid, "console relay broken", "credit out of range", true);
    c->peer_consumed = v;
  } else if (kind == 'E') {
    return finish(cid, clean_reason(std::string_view(f).substr(1)), "", false);
  } else if (kind != 'H') {
    return finish(cid, "console relay broken", "unknown frame", true);
  }
  pump(cid);
}

void ConsoleRelay::pump(const std::string& cid) {
  auto c = find(cid);
  if (!c) return;
  ConsoleBridge& b = *c->bridge;
  if (c->api_side && b.client_closed()) return finish(cid, "", "closed by the client", false);
  // Data out, within the credit.
  for (;;) {
    const size_t room = c->window - static_cast<size_t>(c->sent - c->peer_consumed);
    if (!room) break;
    std::string d;
    if (c->api_side) {
      d = b.take_input(std::min(kChunk, room));
    } else {
      if (c->pending.empty()) b.take_output(c->pending);
      const size_t n = std::min({kChunk, room, c->pending.size()});
      d = c->pending.substr(0, n);
      c->pending.erase(0, n);
    }
    if (d.empty()) break;
    std::string body;
    put_le(body, c->tx_seq++, 4);
    body += d;
    c->sent += d.size();
    send(*c, 'D', body);
  }
  // Credit back: what our bridge has passed on.
  const size_t queued = c->api_side ? ConsoleBridge::kOutputCap - b.output_room() : b.input_queued();
  const uint64_t consumed = c->received - queued;
  if (consumed > c->reported && (consumed - c->reported >= c->window / 4 || queued == 0)) {
    std::string body;
    put_le(body, consumed, 8);
    send(*c, 'A', body);
    c->reported = consumed;
  }
  // The device side ended: after all its output has gone out, tell the API side why.
  if (!c->api_side && c->pending.empty() && !b.output_pending()) {
    if (auto why = b.ended()) return finish(cid, "", clean_reason(*why), false);
  }
}

void ConsoleRelay::tick() {
  std::vector<std::shared_ptr<Console>> all;
  {
    std::lock_guard lk(mu_);
    for (auto& [cid, c] : consoles_) all.push_back(c);
  }
  const auto now = clock::now();
  for (auto& c : all) {
    if (now - c->last_rx >= cfg_.silence) {
      finish(c->cid, "device link unreachable", "silence", true);
    } else if (now - c->last_tx >= cfg_.heartbeat) {
      send(*c, 'H', {});
    }
  }
}

// Ends a console: tells the peer `peer_reason` (unless empty: the peer ended it) and this side's
// bridge `local_reason` (the API side's websocket closes with it; the link side closes its stream).
void ConsoleRelay::finish(const std::string& cid, const std::string& local_reason, const std::string& peer_reason,
                          bool broken) {
  std::shared_ptr<Console> c;
  {
    std::lock_guard lk(mu_);
    auto it = consoles_.find(cid);
    if (it == consoles_.end()) return;
    c = std::move(it->second);
    consoles_.erase(it);
    ++(broken ? stats_.broken : stats_.ended);
  }
  if (!peer_reason.empty()) send(*c, 'E', peer_reason);
  if (broken) spdlog::warn("bus: console {} ended: {} ({})", cid, local_reason, peer_reason);
  if (c->api_side) c->bridge->end(local_reason.empty() ? "ended" : local_reason, broken);
  else c->bridge->close_by_client();
  c->sub.reset();
}

}  // namespace keel::bus
