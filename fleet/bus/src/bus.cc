#include "keel/bus/bus.h"

#include <nats/nats.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

namespace keel::bus {

bool valid_token(std::string_view t) {
  if (t.empty() || t.size() > 64) return false;
  for (char c : t)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return false;
  return true;
}

struct Bus::Subscription::State {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;     // no more handler calls (set by the destructor)
  bool completed = false;  // the library will not call on_msg again (its on-complete callback ran)
  Handler handler;
  natsSubscription* sub = nullptr;
  // What the library holds as the callbacks' closure: a reference of its own.
  std::shared_ptr<State>* box = nullptr;
};

namespace {

void on_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  auto& st = **static_cast<std::shared_ptr<Bus::Subscription::State>*>(closure);
  {
    std::lock_guard lk(st.mu);
    if (!st.closed) {
      const char* reply = natsMsg_GetReply(m);
      st.handler(natsMsg_GetSubject(m),
                 std::string_view(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m))),
                 reply ? std::string_view(reply) : std::string_view());
    }
  }
  natsMsg_Destroy(m);
}

void on_complete(void* closure) {
  auto keep = *static_cast<std::shared_ptr<Bus::Subscription::State>*>(closure);
  std::lock_guard lk(keep->mu);
  keep->completed = true;
  keep->cv.notify_all();
}

std::string status_text(natsStatus s) {
  std::string t = natsStatus_GetText(s);
  natsStatus ls = NATS_OK;
  if (const char* last = nats_GetLastError(&ls); last && *last && ls == s) t += std::string(": ") + last;
  return t;
}

}  // namespace

Bus::Subscription::~Subscription() {
  if (!state_) return;
  {
    std::lock_guard lk(state_->mu);  // waits for a handler call in progress
    state_->closed = true;
  }
  natsSubscription_Unsubscribe(state_->sub);
  bool completed = false;
  {
    std::unique_lock lk(state_->mu);
    completed = state_->cv.wait_for(lk, std::chrono::seconds(5), [&] { return state_->completed; });
  }
  natsSubscription_Destroy(state_->sub);
  if (completed) delete state_->box;
  else spdlog::warn("bus: a subscription did not complete within 5 s (its closure is kept)");
}

Result<std::unique_ptr<Bus>, std::string> Bus::connect(BusConfig cfg) {
  if (cfg.url.empty()) return Err{std::string("bus: no NATS URL")};
  if (!valid_token(cfg.prefix))
    return Err{"bus: subject prefix '" + cfg.prefix + "' is not one token (letters, digits, '-', '_'; 1-64)"};
  std::unique_ptr<Bus> b(new Bus());
  b->cfg_ = std::move(cfg);
  uint8_t id[8];
  randombytes_buf(id, sizeof id);
  static const char* hex = "0123456789abcdef";
  for (uint8_t x : id) b->node_ += {hex[x >> 4], hex[x & 15]};

  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, b->cfg_.url.c_str());
  if (s == NATS_OK && !b->cfg_.name.empty()) s = natsOptions_SetName(opts, b->cfg_.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, b->cfg_.connect_timeout.count());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);  // forever, once connected
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 500);
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(opts, 100, 1000);
  if (s == NATS_OK) s = natsConnection_Connect(&b->nc_, opts);
  const std::string why = s == NATS_OK ? "" : status_text(s);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) return Err{"bus: cannot connect to NATS at " + b->cfg_.url + ": " + why};
  return b;
}

Bus::~Bus() {
  if (nc_) {
    natsConnection_FlushTimeout(nc_, 1000);
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
}

std::string Bus::subject(std::string_view tail) const {
  std::string s = cfg_.prefix;
  s += '.';
  s += tail;
  return s;
}

bool Bus::publish(std::string_view tail, std::string_view data) { return publish_to(subject(tail), data); }

bool Bus::publish_to(std::string_view subj, std::string_view data) {
  const std::string s(subj);
  const natsStatus st = natsConnection_Publish(nc_, s.c_str(), data.data(), static_cast<int>(data.size()));
  if (st != NATS_OK) {
    if (publish_failures_.fetch_add(1) % 1000 == 0)
      spdlog::warn("bus: publish to {} failed: {}", s, status_text(st));
    return false;
  }
  return true;
}

std::unique_ptr<Bus::Subscription> Bus::subscribe(std::string_view tail, Handler h) {
  std::unique_ptr<Subscription> sub(new Subscription());
  auto st = std::make_shared<Subscription::State>();
  st->handler = std::move(h);
  st->box = new std::shared_ptr<Subscription::State>(st);
  const std::string s = subject(tail);
  natsStatus r = natsConnection_Subscribe(&st->sub, nc_, s.c_str(), on_msg, st->box);
  if (r == NATS_OK) r = natsSubscription_SetOnCompleteCB(st->sub, on_complete, st->box);
  if (r != NATS_OK) {
    spdlog::error("bus: cannot subscribe to {}: {}", s, status_text(r));
    if (st->sub) {
      {
        std::lock_guard lk(st->mu);
        st->closed = true;
      }
      natsSubscription_Unsubscribe(st->sub);
      natsSubscription_Destroy(st->sub);
      // The library may still hold the closure: keep it (a failure here is rare and small).
    } else {
      delete st->box;
    }
    return nullptr;
  }
  sub->state_ = std::move(st);
  return sub;
}

Bus::Reply Bus::request(std::string_view tail, std::string_view data, std::chrono::milliseconds timeout,
                        std::string& answer) {
  const std::string s = subject(tail);
  natsMsg* reply = nullptr;
  const natsStatus st =
      natsConnection_Request(&reply, nc_, s.c_str(), data.data(), static_cast<int>(data.size()), timeout.count());
  if (st == NATS_OK) {
    answer.assign(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    return Reply::ok;
  }
  if (st == NATS_TIMEOUT) return Reply::timeout;
  if (st == NATS_NO_RESPONDERS) return Reply::no_responders;
  spdlog::warn("bus: request on {} failed: {}", s, status_text(st));
  return Reply::error;
}

bool Bus::connected() const { return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }

bool Bus::flush(std::chrono::milliseconds timeout) { return natsConnection_FlushTimeout(nc_, timeout.count()) == NATS_OK; }

}  // namespace keel::bus
