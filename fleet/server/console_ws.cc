// The console websocket: GET /api/v1/devices/{id}/console (docs/fleet-api.md, "Device console").
// Bytes typed by the user go to the device's console stream and the device's output comes back,
// through a ConsoleBridge that the device link serves on its shard (in this process, or in
// keel-gateway through the Fleet bus: keel/bus/console_relay.h). Admission
// and re-validation are the event stream's (websocket.h); only the device's owners may open one.
#include <spdlog/spdlog.h>

#include <mutex>

#include "owner.h"
#include "websocket.h"

namespace keel::fleet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

std::optional<int64_t> console_device(const std::string& path) {
  static const std::string pre = "/api/v1/devices/", post = "/console";
  if (path.size() <= pre.size() + post.size() || path.compare(0, pre.size(), pre) != 0 ||
      path.compare(path.size() - post.size(), post.size(), post) != 0)
    return std::nullopt;
  const std::string id = path.substr(pre.size(), path.size() - pre.size() - post.size());
  if (id.empty() || id.size() > 18 || id[0] == '0') return std::nullopt;
  for (char ch : id)
    if (ch < '0' || ch > '9') return std::nullopt;
  return std::stoll(id);
}

asio::awaitable<void> console_websocket(App& app, beast::tcp_stream stream, http::request<http::string_body> upgrade,
                                        Request req, int64_t device_id) {
  auto refuse = [&](const Response& r) -> asio::awaitable<void> {
    auto res = beast_response(r, upgrade.version(), false);
    auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
    (void)ec, (void)n;
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  };
  Principal who;
  const uint64_t generation = app.credentials.generation();
  if (auto refused = admit_websocket(app, req, who)) {
    co_await refuse(*refused);
    co_return;
  }
  // The device's owners only (a read token, an organisation user, an administrator: 403; another
  // organisation's device or none: 404), checked like a write request to the device.
  std::optional<Response> denied;
  try {
    auto db = app.pool->acquire();
    Ctx c{app, req, *db, who, json::object(), {}, {}, {}, {}};
    if (who.token_scope == "read") throw forbidden("this API token is read-only; a console needs a write token");
    device_owner(c, device_id, Need::write);
  } catch (const ApiError& e) {
    denied = error_response(e.status, e.code, e.what(), e.field);
  } catch (const std::exception& e) {
    spdlog::warn("console: authorization failed: {}", e.what());
    denied = error_response(500, "internal", "internal error");
  }
  if (!denied && !app.console_open)
    denied = error_response(501, "console_unavailable", "console needs the device link in this process or the Fleet bus (keel-fleet --nats)");
  if (denied) {
    co_await refuse(*denied);
    co_return;
  }

  stream.expires_never();
  auto ws = std::make_shared<websocket::stream<beast::tcp_stream>>(std::move(stream));
  ws->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws->read_message_max(64 * 1024);
  asio::any_io_executor exec = co_await asio::this_coro::executor;
  struct Shared {
    explicit Shared(asio::any_io_executor e)
        : signal(e, std::chrono::steady_clock::time_point::max()), room(e, std::chrono::steady_clock::time_point::max()) {}
    std::mutex mu;
    bool closed = false;   // the client went away (or the writer ended the stream)
    bool recheck = false;  // the user's credentials changed
    asio::steady_timer signal;  // wakes the writer: output, end, credentials
    asio::steady_timer room;    // wakes the reader: input room
  };
  auto shared = std::make_shared<Shared>(exec);
  auto bridge = std::make_shared<ConsoleBridge>();
  bridge->set_client_wake([shared, exec] {
    asio::post(exec, [shared] {
      shared->signal.cancel();
      shared->room.cancel();
    });
  });
  // Whatever ends this coroutine, the link learns that the console is closed.
  struct Closer {
    std::shared_ptr<ConsoleBridge> b;
    ~Closer() { b->close_by_client(); }
  } closer{bridge};
  const ConsoleOpen opened = app.console_open(device_id, bridge);

  struct Watching {
    App& app;
    int id = 0;
    ~Watching() {
      if (id) app.credentials.unwatch(id);
    }
  } watching{app};
  const bool has_credential = who.kind == Principal::Kind::user;
  if (has_credential) {
    watching.id = app.credentials.watch(who.user_id, [shared, exec] {
      std::lock_guard lk(shared->mu);
      shared->recheck = true;
      asio::post(exec, [shared] { shared->signal.cancel(); });
    });
    if (app.credentials.generation() != generation) shared->recheck = true;
  }
  auto [aec] = co_await ws->async_accept(upgrade, asio::as_tuple(use_awaitable));
  if (aec) co_return;
  if (opened != ConsoleOpen::ok) {
    const bool offline = opened == ConsoleOpen::offline;
    websocket::close_reason why(offline ? kCloseDeviceOffline : kCloseConsoleLimit,
                                offline ? "device offline" : "console limit");
    auto [cec] = co_await ws->async_close(why, asio::as_tuple(use_awaitable));
    (void)cec;
    co_return;
  }
  spdlog::info("console of device {} opened by {}", device_id, who.label);

  // Reader: the user's bytes (text or binary frames) into the bridge; while the bridge's input
  // queue is full it waits, and so stops reading the socket (TCP back-pressure to the client).
  asio::co_spawn(
      exec,
      [ws, shared, bridge]() -> asio::awaitable<void> {
        beast::flat_buffer b;
        for (;;) {
          auto [rec, rn] = co_await ws->async_read(b, asio::as_tuple(use_awaitable));
          (void)rn;
          if (rec) break;
          std::string_view data(static_cast<const char*>(b.data().data()), b.size());
          while (!data.empty()) {
            data.remove_prefix(bridge->send_input(data));
            if (data.empty()) break;
            {
              std::lock_guard lk(shared->mu);
              if (shared->closed) co_return;
            }
            shared->room.expires_at(std::chrono::steady_clock::time_point::max());
            auto [tec] = co_await shared->room.async_wait(asio::as_tuple(use_awaitable));
            (void)tec;
          }
          b.consume(b.size());
        }
        {
          std::lock_guard lk(shared->mu);
          shared->closed = true;
        }
        shared->signal.cancel();
      },
      asio::detached);

  using clock = std::chrono::steady_clock;
  auto next_check = clock::now() + kRevalidateEvery;
  auto expiry_check = clock::time_point::max();
  if (who.expires_at)
    expiry_check = clock::now() + std::chrono::milliseconds(std::max<int64_t>(0, *who.expires_at - now_ms()) + 1);
  auto check_due = [&] { return has_credential ? std::min(next_check, expiry_check) : clock::time_point::max(); };
  std::optional<websocket::close_reason> end;
  std::string out;
  for (;;) {
    bool check = false;
    {
      std::lock_guard lk(shared->mu);
      if (shared->closed) break;
      if (has_credential && clock::now() >= check_due()) shared->recheck = true;
      if (shared->recheck) {
        shared->recheck = false;
        check = true;
      }
    }
    if (check) {
      end = revalidate_websocket(app, req, who);
      if (end) break;
      next_check = clock::now() + kRevalidateEvery;
      if (expiry_check <= clock::now()) expiry_check = clock::now() + std::chrono::seconds(1);
      continue;
    }
    out.clear();
    bridge->take_output(out);
    if (out.empty()) {
      if (auto why = bridge->ended()) {
        // Everything the device said has been sent: close with the reason.
        end = *why == "device offline" ? websocket::close_reason(kCloseDeviceOffline, "device offline")
              : bridge->failed()         ? websocket::close_reason(websocket::close_code::internal_error, *why)
                                         : websocket::close_reason(websocket::close_code::normal, *why);
        break;
      }
      shared->signal.expires_at(check_due());
      auto [tec] = co_await shared->signal.async_wait(asio::as_tuple(use_awaitable));
      (void)tec;
      continue;
    }
    ws->binary(true);
    auto [wec, wn] = co_await ws->async_write(asio::buffer(out), asio::as_tuple(use_awaitable));
    (void)wn;
    if (wec) break;
  }
  bool closed_by_client = false;
  {
    std::lock_guard lk(shared->mu);
    closed_by_client = shared->closed;
    shared->closed = true;
  }
  shared->room.cancel();
  bridge->close_by_client();
  spdlog::info("console of device {} closed ({})", device_id,
               end ? std::string(end->reason.data(), end->reason.size()) : std::string("by the client"));
  if (end && !closed_by_client) {
    auto [cec] = co_await ws->async_close(*end, asio::as_tuple(use_awaitable));
    (void)cec;
  }
  boost::system::error_code ignored;
  beast::get_lowest_layer(*ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace keel::fleet
