#include "server.h"

#include "websocket.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <deque>
#include <optional>

namespace keel::fleet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

namespace {

Method to_method(http::verb v) {
  switch (v) {
    case http::verb::get: return Method::GET;
    case http::verb::head: return Method::GET;
    case http::verb::post: return Method::POST;
    case http::verb::put: return Method::PUT;
    case http::verb::patch: return Method::PATCH;
    case http::verb::delete_: return Method::DELETE_;
    default: return Method::OTHER;
  }
}

// Splits and decodes the request target. Returns false on malformed escapes or NUL bytes.
bool parse_target(std::string_view target, Request& req) {
  auto qpos = target.find('?');
  std::string_view raw_path = target.substr(0, qpos);
  if (!percent_decode(raw_path, req.path, false)) return false;
  if (qpos == std::string_view::npos) return true;
  std::string_view qs = target.substr(qpos + 1);
  while (!qs.empty()) {
    auto amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    std::string k, v;
    if (!percent_decode(kv.substr(0, eq), k, true)) return false;
    if (eq != std::string_view::npos && !percent_decode(kv.substr(eq + 1), v, true)) return false;
    req.query[k] = v;
  }
  return true;
}

http::response<http::string_body> to_beast(const Response& r, unsigned version, bool keep_alive, bool head) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "keel-fleet");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  // Defence in depth for the web UI; the API never returns HTML.
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Content-Security-Policy",
          "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
  for (const auto& [k, v] : r.headers) res.insert(k, v);
  res.keep_alive(keep_alive);
  if (!head) res.body() = r.body;
  res.prepare_payload();
  if (head) res.body().clear();
  return res;
}

}  // namespace

// Why a live websocket (event stream, console) ends although its client still listens: the
// credential it was opened with no longer works, or no longer stands for what it did
// (docs/fleet-api.md, "Event stream"). Close codes are in RFC 6455's private range: 4401 the
// credential ended (reason: the error code a plain request would get, or session_ended), 4403 the
// user's role or organisation changed.
std::optional<websocket::close_reason> revalidate_websocket(App& app, const Request& req, const Principal& who) {
  Principal now;
  try {
    now = app.authenticate(req);
  } catch (const ApiError& e) {
    return websocket::close_reason(kCloseCredentialEnded, e.code);
  } catch (const std::exception& e) {
    // Fail closed: a stream whose credential cannot be checked stops; the client reconnects.
    spdlog::warn("websocket: re-validating the credential failed: {}", e.what());
    return websocket::close_reason(websocket::close_code::internal_error, "revalidation_failed");
  }
  if (now.kind != who.kind || now.user_id != who.user_id) {
    // Sessions: logged out, ended by a password change, the account disabled (its sessions are
    // deleted), or expired — authentication treats all as "no session".
    bool expired = who.expires_at && *who.expires_at <= now_ms();
    return websocket::close_reason(kCloseCredentialEnded, expired ? "session_expired" : "session_ended");
  }
  if (now.role != who.role || now.org_id != who.org_id || now.token_scope != who.token_scope)
    return websocket::close_reason(kCloseAccessChanged, "role_changed");
  return std::nullopt;
}

std::optional<Response> admit_websocket(App& app, const Request& req, Principal& who) {
  try {
    who = app.authenticate(req);
  } catch (const ApiError& e) {
    return error_response(e.status, e.code, e.what(), e.field);
  } catch (const std::exception& e) {
    return error_response(500, "internal", "internal error");
  }
  if (who.kind == Principal::Kind::anonymous) return error_response(401, "unauthenticated", "log in first");
  if (who.token_scope == "device") return error_response(403, "forbidden", "this API token may only send device reports");
  auto origin = req.header("origin");
  auto host = req.header("host");
  // Browsers send cookies with cross-site websocket handshakes: accept only our own origin.
  if (!origin.empty() && origin != "http://" + host && origin != "https://" + host)
    return error_response(403, "bad_origin", "websocket origin does not match the host");
  return std::nullopt;
}

http::response<http::string_body> beast_response(const Response& r, unsigned version, bool keep_alive) {
  return to_beast(r, version, keep_alive, false);
}

struct HttpServer::Impl {
  explicit Impl(App& a) : app(a), acceptor(ioc) {}
  App& app;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept: {}", ec.message());
        continue;
      }
      // Responses are written in one go; without TCP_NODELAY, Nagle + delayed ACKs add ~40 ms to
      // pipelined keep-alive requests.
      boost::system::error_code nd;
      sock.set_option(tcp::no_delay(true), nd);
      // Each connection runs on its own strand, so its websocket queue and timer never race.
      asio::co_spawn(asio::make_strand(ioc), session(std::move(sock)), asio::detached);
    }
  }

  asio::awaitable<void> send(beast::tcp_stream& stream, const Response& r, unsigned version, bool keep_alive,
                             bool head = false) {
    auto res = to_beast(r, version, keep_alive, head);
    co_await http::async_write(stream, res, use_awaitable);
  }

  // After refusing an oversized body: stop sending, then read and discard what the client is
  // still sending for a short while, so closing does not reset the connection before the client
  // has read the 413.
  asio::awaitable<void> drain(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    std::vector<char> sink(64 * 1024);
    stream.expires_after(std::chrono::seconds(2));
    size_t total = 0;
    while (total < (size_t{512} << 20)) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), asio::as_tuple(use_awaitable));
      if (ec) break;
      total += n;
    }
  }

  asio::awaitable<void> session(tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buf;
    std::string remote;
    bool loopback = false;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) {
        remote = ep.address().to_string();
        auto a = ep.address();
        loopback = a.is_loopback() || (a.is_v6() && a.to_v6().is_v4_mapped() &&
                                        asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback());
      }
    }
    try {
      for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(16 * 1024);
        // Beast checks Content-Length against the limit while parsing the header, before the
        // route is known: start with the largest limit and apply the route's own below.
        parser.body_limit(std::max({app.cfg.max_body, app.cfg.max_upload, app.cfg.max_import}));
        stream.expires_after(std::chrono::seconds(60));
        auto [ec, n] = co_await http::async_read_header(stream, buf, parser, asio::as_tuple(use_awaitable));
        (void)n;
        if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout) break;
        if (ec == http::error::body_limit) {
          co_await send(stream, error_response(413, "body_too_large", "the request body exceeds the upload limit of " +
                                                   std::to_string(app.cfg.max_upload) + " bytes"), 11, false);
          co_await drain(stream);
          break;
        }
        if (ec) {
          int st = ec == http::error::header_limit ? 431 : 400;
          co_await send(stream, error_response(st, st == 431 ? "headers_too_large" : "bad_http",
                                               "malformed HTTP request: " + ec.message()),
                        11, false);
          break;
        }
        auto& hdr = parser.get();
        unsigned version = hdr.version();
        Request req;
        req.remote = remote;
        req.loopback = loopback;
        req.method = to_method(hdr.method());
        bool head = hdr.method() == http::verb::head;
        if (!parse_target(std::string_view(hdr.target().data(), hdr.target().size()), req)) {
          co_await send(stream, error_response(400, "bad_path", "the request path has a malformed %-escape or a NUL byte"),
                        version, false);
          break;
        }
        // Upload routes get the larger limit; everything else keeps the JSON limit.
        Match m = app.router.match(req.method, req.path);
        size_t limit = app.body_limit(m.route);
        if (auto len = parser.content_length(); len && *len > limit) {
          co_await send(stream, error_response(413, "body_too_large",
                                               "the request body exceeds the limit of " + std::to_string(limit) + " bytes"),
                        version, false);
          co_await drain(stream);
          break;
        }
        parser.body_limit(limit);
        if (hdr[http::field::expect] == "100-continue") {
          http::response<http::empty_body> cont{http::status::continue_, version};
          co_await http::async_write(stream, cont, use_awaitable);
        }
        for (const auto& f : hdr) {
          std::string k(f.name_string());
          std::transform(k.begin(), k.end(), k.begin(), ::tolower);
          req.headers[k] = std::string(f.value());
        }
        if (websocket::is_upgrade(hdr) && req.path == "/api/v1/events") {
          if (!parser.is_done()) {
            co_await send(stream, error_response(400, "bad_http", "a websocket upgrade has no body"), version, false);
            break;
          }
          co_await websocket_session(std::move(stream), parser.release(), req);
          co_return;
        }
        if (auto device = console_device(req.path); device && websocket::is_upgrade(hdr)) {
          if (!parser.is_done()) {
            co_await send(stream, error_response(400, "bad_http", "a websocket upgrade has no body"), version, false);
            break;
          }
          co_await console_websocket(app, std::move(stream), parser.release(), req, *device);
          co_return;
        }
        stream.expires_after(std::chrono::seconds(300));
        auto [ec2, n2] = co_await http::async_read(stream, buf, parser, asio::as_tuple(use_awaitable));
        (void)n2;
        if (ec2) {
          if (ec2 == http::error::body_limit) {
            size_t lim = app.body_limit(m.route);
            co_await send(stream, error_response(413, "body_too_large",
                                                 "the request body exceeds the limit of " + std::to_string(lim) + " bytes"),
                          version, false);
            co_await drain(stream);
          } else if (ec2 != http::error::end_of_stream && ec2 != asio::error::eof) {
            co_await send(stream, error_response(400, "bad_http", "malformed HTTP request: " + ec2.message()), version,
                          false);
          }
          break;
        }
        auto msg = parser.release();
        req.body = std::move(msg.body());
        bool keep = msg.keep_alive();
        Response r = app.handle(req);
        co_await send(stream, r, version, keep, head);
        if (!keep) break;
      }
    } catch (const std::exception& e) {
      spdlog::debug("connection from {} closed: {}", remote, e.what());
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  // Pushes change events (the audit stream, filtered to what the principal may read) for as long
  // as the credential it was opened with stays valid.
  asio::awaitable<void> websocket_session(beast::tcp_stream stream, http::request<http::string_body> upgrade,
                                          Request req) {
    Principal who;
    // Read before authenticating: a credential change committed after the check below but before
    // the stream watches its user shows up as a different generation.
    const uint64_t generation = app.credentials.generation();
    if (auto refused = admit_websocket(app, req, who)) {
      co_await send(stream, *refused, upgrade.version(), false);
      co_return;
    }
    stream.expires_never();
    auto ws = std::make_shared<websocket::stream<beast::tcp_stream>>(std::move(stream));
    ws->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    asio::any_io_executor exec = co_await asio::this_coro::executor;
    struct Shared {
      explicit Shared(asio::any_io_executor e) : signal(e, std::chrono::steady_clock::time_point::max()) {}
      std::mutex mu;
      std::deque<std::string> q;
      bool closed = false;
      // Set when the user's credentials changed: the writer re-validates before it sends anything
      // more, so no event published after the change reaches a stream the change ended.
      bool recheck = false;
      asio::steady_timer signal;
    };
    auto shared = std::make_shared<Shared>(exec);
    auto scope = who.kind == Principal::Kind::user && who.role != Role::administrator ? who.org_id
                                                                                    : std::optional<int64_t>();
    bool all = !scope.has_value();
    int sub = app.events.subscribe([shared, exec, all, scope](const std::string& text, std::optional<int64_t> org) {
      if (!all && org != scope) return;
      std::lock_guard lk(shared->mu);
      if (shared->closed || shared->q.size() > 1000) return;  // a slow reader loses events, never memory
      shared->q.push_back(text);
      asio::post(exec, [shared] { shared->signal.cancel_one(); });
    });
    // What outside this coroutine refers to the stream (the event and credential subscriptions) is
    // dropped with its frame, also when the server stops with the stream open (the io_context then
    // destroys the frame; an App-held callback must not outlive the timer it wakes).
    struct Listening {
      App& app;
      int sub = 0;
      int watch = 0;
      ~Listening() {
        app.events.unsubscribe(sub);
        if (watch) app.credentials.unwatch(watch);
      }
    } listening{app, sub};
    const bool has_credential = who.kind == Principal::Kind::user;  // studio: nothing to re-validate
    if (has_credential) {
      listening.watch = app.credentials.watch(who.user_id, [shared, exec] {
        std::lock_guard lk(shared->mu);
        shared->recheck = true;
        asio::post(exec, [shared] { shared->signal.cancel_one(); });
      });
      if (app.credentials.generation() != generation) {
        std::lock_guard lk(shared->mu);
        shared->recheck = true;
      }
    }
    // Subscribed before the handshake answer goes out: a client that makes a change right after
    // its handshake completes must see that change's event (it is queued until the loop below).
    auto [ec] = co_await ws->async_accept(upgrade, asio::as_tuple(use_awaitable));
    if (ec) co_return;
    // Reader: detects the close; events flow one way only. Owns references to what it touches.
    asio::co_spawn(
        exec,
        [ws, shared]() -> asio::awaitable<void> {
          beast::flat_buffer b;
          for (;;) {
            auto [rec, rn] = co_await ws->async_read(b, asio::as_tuple(use_awaitable));
            (void)rn;
            if (rec) break;
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
    // Just after the credential expires (a session's 12 hours, a token's expires_at), on this
    // server's steady clock.
    auto expiry_check = clock::time_point::max();
    if (who.expires_at)
      expiry_check = clock::now() + std::chrono::milliseconds(std::max<int64_t>(0, *who.expires_at - now_ms()) + 1);
    // When the writer must re-validate even without a notification (also while events keep
    // flowing): the periodic safety net and the expiry.
    auto check_due = [&] { return has_credential ? std::min(next_check, expiry_check) : clock::time_point::max(); };
    std::optional<websocket::close_reason> end;
    for (;;) {
      std::string next;
      bool check = false;
      {
        std::lock_guard lk(shared->mu);
        if (shared->closed) break;
        if (has_credential && clock::now() >= check_due()) shared->recheck = true;
        if (shared->recheck) {
          shared->recheck = false;  // a change during the check below flags another
          check = true;
        } else if (!shared->q.empty()) {
          next = std::move(shared->q.front());
          shared->q.pop_front();
        }
      }
      if (check) {
        end = revalidate_websocket(app, req, who);
        if (end) break;
        next_check = clock::now() + kRevalidateEvery;
        // Still valid at its expiry (the wall clock disagrees a little): look again in a second.
        if (expiry_check <= clock::now()) expiry_check = clock::now() + std::chrono::seconds(1);
        continue;
      }
      if (next.empty()) {
        shared->signal.expires_at(check_due());
        auto [tec] = co_await shared->signal.async_wait(asio::as_tuple(use_awaitable));
        (void)tec;  // woken (operation_aborted) or due: the loop looks at the clock and the queue
        continue;
      }
      ws->text(true);
      auto [wec, wn] = co_await ws->async_write(asio::buffer(next), asio::as_tuple(use_awaitable));
      (void)wn;
      if (wec) break;
    }
    bool closed_by_client = false;
    {
      std::lock_guard lk(shared->mu);
      closed_by_client = shared->closed;
      shared->closed = true;
      shared->q.clear();
    }
    if (end && !closed_by_client) {
      spdlog::info("event stream of {} closed: {}", who.label, std::string(end->reason.data(), end->reason.size()));
      // The close handshake (bounded by the stream's handshake timeout), then the socket.
      auto [cec] = co_await ws->async_close(*end, asio::as_tuple(use_awaitable));
      (void)cec;
    }
    boost::system::error_code ignored;
    beast::get_lowest_layer(*ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
};

HttpServer::HttpServer(App& app) : impl_(std::make_unique<Impl>(app)) {}
HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::listen(const std::string& address, uint16_t port) {
  auto addr = asio::ip::make_address(address);
  tcp::endpoint ep(addr, port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  return impl_->acceptor.local_endpoint().port();
}

void HttpServer::run(unsigned threads) {
  for (unsigned k = 1; k < threads; ++k) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
}

void HttpServer::start(unsigned threads) {
  for (unsigned k = 0; k < threads; ++k) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

void HttpServer::stop_on_signals() {
  auto sigs = std::make_shared<asio::signal_set>(impl_->ioc, SIGINT, SIGTERM);
  sigs->async_wait([this, sigs](const boost::system::error_code& ec, int) {
    if (!ec) impl_->ioc.stop();
  });
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
}

}  // namespace keel::fleet
