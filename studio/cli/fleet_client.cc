#include "fleet_client.h"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <cstdlib>
#include <filesystem>

#include "keel/release/io.h"

namespace keel::studio {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using nlohmann::json;
using tcp = asio::ip::tcp;

std::string Error::describe() const {
  std::string s;
  if (http_status) s = "Fleet answered " + std::to_string(http_status) + (code.empty() ? "" : " " + code) + ": ";
  s += message;
  if (!field.empty()) s += " (field '" + field + "')";
  for (const auto& d : details)
    s += "\n  " + d.where() + ": " + (d.field.empty() ? "" : d.field + ": ") + d.message;
  if (detail_count > static_cast<int64_t>(details.size()))
    s += "\n  ... and " + std::to_string(detail_count - static_cast<int64_t>(details.size())) + " more";
  return s;
}

std::string Error::Detail::where() const {
  if (line > 0) return "line " + std::to_string(line);
  if (index >= 0) return "devices[" + std::to_string(index) + "]";
  return "file";
}

namespace {

bool is_loopback_host(const std::string& h) {
  if (h == "localhost" || h == "::1" || h == "[::1]") return true;
  return h.rfind("127.", 0) == 0;
}

bool is_ip_literal(const std::string& h) {
  boost::system::error_code ec;
  (void)asio::ip::make_address(h, ec);
  return !ec;
}

// Why a TLS handshake failed, in words an operator can act on.
std::string tls_failure(SSL* ssl, const Endpoint& ep, const TlsOptions& tls, const beast::error_code& ec) {
  long v = SSL_get_verify_result(ssl);
  std::string where = "TLS connection to " + ep.host + ":" + ep.port + " refused: ";
  if (v == X509_V_OK) {
    std::string m = ec.message();
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
      m = "the server closed the connection during the handshake";
    return where + "handshake failed: " + m + " (is this an https:// port? TLS 1.2 or newer is required)";
  }
  std::string reason = X509_verify_cert_error_string(v);
  std::string hint;
  switch (v) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      hint = "the server's certificate is not issued for '" + ep.host +
             "'; use the host name the certificate names in --url";
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      hint = "the server's certificate is outside its validity period (or this machine's clock is wrong)";
      break;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      hint = tls.ca_file.empty() ? "the certificate is not signed by a CA this machine trusts; pass --ca-file with "
                                   "your CA's certificate (or set KEEL_FLEET_CA_FILE)"
                                 : "the certificate is not signed by the CA in '" + tls.ca_file + "'";
      break;
    default:
      break;
  }
  return where + "certificate verify failed: " + reason + (hint.empty() ? "" : "; " + hint) +
         ". Nothing was sent.";
}

}  // namespace

std::string Endpoint::origin() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return (tls ? "https://" : "http://") + h + ":" + port;
}

Result<Endpoint> parse_url(const std::string& url) {
  Endpoint ep;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    ep.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return fail("Fleet URL '" + url + "' must start with https:// or http://");
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) ep.base_path = rest.substr(slash);
  while (!ep.base_path.empty() && ep.base_path.back() == '/') ep.base_path.pop_back();
  if (hostport.empty()) return fail("Fleet URL '" + url + "' has no host");
  if (hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) return fail("Fleet URL '" + url + "': unterminated IPv6 address");
    ep.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return fail("Fleet URL '" + url + "': bad port");
      ep.port = hostport.substr(close + 2);
    }
  } else {
    size_t colon = hostport.rfind(':');
    ep.host = hostport.substr(0, colon);
    if (colon != std::string::npos) ep.port = hostport.substr(colon + 1);
  }
  if (ep.port.empty()) ep.port = ep.tls ? "443" : "80";
  if (ep.host.empty() || ep.port.size() > 5 ||
      !std::all_of(ep.port.begin(), ep.port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(ep.port) == 0 || std::stoi(ep.port) > 65535)
    return fail("Fleet URL '" + url + "': bad host or port");
  ep.loopback = is_loopback_host(ep.host);
  return ep;
}

namespace {

// One HTTP/1.1 request and its answer on a connected stream (plain TCP or TLS).
template <class Stream>
Result<json> exchange(Stream& stream, const Endpoint& ep, const std::string& token, const std::string& method,
                        const std::string& path, const std::string& content_type, std::span<const uint8_t> body,
                        const Progress* progress, const std::string& where) {
  beast::error_code ec;
  http::verb verb = http::string_to_verb(method);
  std::string target = ep.base_path + path;
  http::request<http::buffer_body> req{verb, target, 11};
  req.set(http::field::host, ep.host);
  req.set(http::field::user_agent, "keel-cli/0.1");
  req.set(http::field::accept, "application/json");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  req.content_length(body.size());
  req.body().data = nullptr;
  req.body().more = !body.empty();
  http::request_serializer<http::buffer_body> sr{req};
  // Large bodies: allow time in proportion (at least 1 MiB/s), then the answer.
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30 + body.size() / (1 << 20)));
  http::write_header(stream, sr, ec);
  if (ec) return fail("sending to Fleet at " + where + " failed: " + ec.message());
  bool send_failed = false;
  const size_t chunk = 64 * 1024;
  uint64_t sent = 0;
  if (progress && *progress) (*progress)(0, body.size());
  while (sent < body.size()) {
    size_t n = std::min(chunk, body.size() - static_cast<size_t>(sent));
    req.body().data = const_cast<uint8_t*>(body.data() + sent);
    req.body().size = n;
    req.body().more = sent + n < body.size();
    http::write(stream, sr, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      // The server may have answered early (e.g. 401, 413) and closed; read that answer below.
      send_failed = true;
      break;
    }
    sent += n;
    if (progress && *progress) (*progress)(sent, body.size());
  }
  if (!send_failed && body.empty()) {
    http::write(stream, sr, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return fail("sending to Fleet at " + where + " failed: " + ec.message());
  }
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(stream, buf, parser, ec);
  if (ec) {
    if (send_failed) return fail("the upload to Fleet at " + where + " was cut off after " + std::to_string(sent) + " bytes");
    return fail("no valid answer from Fleet at " + where + ": " + ec.message());
  }
  auto& res = parser.get();
  int status = static_cast<int>(res.result_int());
  json j;
  if (!res.body().empty()) {
    j = json::parse(res.body(), nullptr, false);
    if (j.is_discarded())
      return keel::Err{Error{.http_status = status, .message = "the server's answer is not JSON (is this a Keel Fleet URL?)"}};
  }
  if (status >= 400) {
    Error e{.http_status = status, .message = "request failed"};
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      const auto& er = j["error"];
      if (er.contains("code") && er["code"].is_string()) e.code = er["code"];
      if (er.contains("message") && er["message"].is_string()) e.message = er["message"];
      if (er.contains("field") && er["field"].is_string()) e.field = er["field"];
      if (er.contains("errors") && er["errors"].is_array()) {
        for (const auto& d : er["errors"]) {
          if (!d.is_object()) continue;
          Error::Detail x;
          if (d.contains("line") && d["line"].is_number_integer()) x.line = d["line"];
          if (d.contains("index") && d["index"].is_number_integer()) x.index = d["index"];
          if (d.contains("field") && d["field"].is_string()) x.field = d["field"];
          if (d.contains("code") && d["code"].is_string()) x.code = d["code"];
          if (d.contains("message") && d["message"].is_string()) x.message = d["message"];
          e.details.push_back(std::move(x));
        }
        e.detail_count = static_cast<int64_t>(e.details.size());
        if (er.contains("error_count") && er["error_count"].is_number_integer()) e.detail_count = er["error_count"];
      }
    }
    return keel::Err{e};
  }
  return j;
}

// TLS: verification on, TLS 1.2 at least, the system trust store unless --ca-file names one.
Result<void> configure_tls(asio::ssl::context& ctx, const TlsOptions& tls) {
  beast::error_code ec;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  if (tls.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
    if (ec) return fail("cannot load the system's trusted CA certificates: " + ec.message());
  } else {
    std::error_code fec;
    if (!std::filesystem::is_regular_file(tls.ca_file, fec))
      return fail("CA file '" + tls.ca_file + "' does not exist or is not a file");
    ctx.load_verify_file(tls.ca_file, ec);
    if (ec)
      return fail("CA file '" + tls.ca_file + "' could not be loaded (" + ec.message() +
                  "); it must hold PEM certificates (-----BEGIN CERTIFICATE-----)");
  }
  return keel::Ok{};
}

// Host name (or IP address) verification, and SNI for names (RFC 6066 forbids IP literals).
Result<void> verify_host(SSL* ssl, const Endpoint& ep) {
  if (is_ip_literal(ep.host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ep.host.c_str()) != 1)
      return fail("cannot set up TLS verification for address '" + ep.host + "'");
  } else {
    if (SSL_set_tlsext_host_name(ssl, ep.host.c_str()) != 1 || SSL_set1_host(ssl, ep.host.c_str()) != 1)
      return fail("cannot set up TLS verification for host '" + ep.host + "'");
  }
  return keel::Ok{};
}

}  // namespace

Result<json> FleetClient::request(const std::string& method, const std::string& path,
                                    const std::string& content_type, std::span<const uint8_t> body,
                                    const Progress* progress) {
  std::string where = ep_.origin();
  try {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream tcp_stream(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(ep_.host, ep_.port, ec);
    if (ec) return fail("cannot resolve Fleet host '" + ep_.host + "': " + ec.message());

    if (!ep_.tls) {
      tcp_stream.expires_after(std::chrono::seconds(10));
      tcp_stream.connect(results, ec);
      if (ec) return fail("cannot connect to Fleet at " + where + ": " + ec.message() + " (is keel-fleet running?)");
      auto r = exchange(tcp_stream, ep_, token_, method, path, content_type, body, progress, where);
      beast::error_code ignored;
      tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return r;
    }

    asio::ssl::context ctx(asio::ssl::context::tls_client);
    if (auto t = configure_tls(ctx, tls_); !t) return keel::Err{t.error()};
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    SSL* ssl = stream.native_handle();
    if (auto v = verify_host(ssl, ep_); !v) return keel::Err{v.error()};
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(results, ec);
    if (ec) return fail("cannot connect to Fleet at " + where + ": " + ec.message() + " (is it running?)");
    stream.handshake(asio::ssl::stream_base::client, ec);
    if (ec) return fail(tls_failure(ssl, ep_, tls_, ec));
    auto r = exchange(stream, ep_, token_, method, path, content_type, body, progress, where);
    // No TLS close_notify exchange: every answer is framed (Content-Length / chunked) and already
    // read in full, and waiting for a peer's close_notify would only add latency.
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    return r;
  } catch (const std::exception& e) {
    return fail(std::string("talking to Fleet at ") + where + " failed: " + e.what());
  }
}

Result<json> FleetClient::call(const std::string& method, const std::string& path, const std::string& content_type,
                                 std::span<const uint8_t> body, const Progress* progress) {
  auto r = request(method, path, content_type, body, progress);
  if (r || r.error().http_status != 403 || token_.empty() || path == "/api/v1/auth/me") return r;
  // The API answers 403 `forbidden` both when the user's role does not allow something and when
  // the API token's scope does not (docs/fleet-api.md): ask who the token is, so the CLI can say
  // which (fleet/fleet.cc, api_error).
  Error e = r.error();
  e.method = method;
  if (auto me = request("GET", "/api/v1/auth/me", "", {}, nullptr); me && me.value().is_object()) {
    const json& j = me.value();
    if (j.contains("token_scope") && j["token_scope"].is_string()) e.token_scope = j["token_scope"];
    if (j.contains("role") && j["role"].is_string()) e.role = j["role"];
  }
  return keel::Err{e};
}

Result<json> FleetClient::get(const std::string& path) { return call("GET", path, "", {}, nullptr); }
Result<json> FleetClient::del(const std::string& path) { return call("DELETE", path, "", {}, nullptr); }
Result<json> FleetClient::post(const std::string& path, const json& body) {
  std::string s = body.dump();
  return call("POST", path, "application/json",
                 std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()), nullptr);
}
Result<json> FleetClient::post_body(const std::string& path, const std::string& content_type, std::string_view body) {
  return call("POST", path, content_type, std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()), nullptr);
}
Result<json> FleetClient::upload(const std::string& path, std::span<const uint8_t> body, const Progress& progress) {
  return call("POST", path, "application/octet-stream", body, &progress);
}

Result<json> FleetClient::get_all(const std::string& path, size_t max_items) {
  json all = json::array();
  std::string cursor;
  const char* sep = path.find('?') == std::string::npos ? "?" : "&";
  for (;;) {
    std::string p = path + sep + "limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto page = get(p);
    if (!page) return page;
    const json& j = page.value();
    if (!j.is_object() || !j.contains("items") || !j["items"].is_array())
      return fail("unexpected answer from Fleet for " + path + " (no 'items' list)");
    for (const auto& it : j["items"]) {
      if (all.size() >= max_items) return all;
      all.push_back(it);
    }
    if (!j.contains("next_cursor") || !j["next_cursor"].is_string()) return all;
    cursor = j["next_cursor"].get<std::string>();
  }
}

// ---- websocket ------------------------------------------------------------------------------

namespace {

namespace websocket = beast::websocket;

// The error of a refused upgrade: the API's JSON error when the answer has one.
Error upgrade_error(const websocket::response_type& res, const beast::error_code& ec, const std::string& where) {
  const int status = static_cast<int>(res.result_int());
  if (status == 0 || status == 101) return Error{.message = "websocket to Fleet at " + where + " failed: " + ec.message()};
  Error e{.http_status = status, .message = "the websocket upgrade was refused"};
  json j = json::parse(res.body(), nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const auto& er = j["error"];
    if (er.contains("code") && er["code"].is_string()) e.code = er["code"];
    if (er.contains("message") && er["message"].is_string()) e.message = er["message"];
  }
  return e;
}

template <class Ws>
Result<FleetClient::WsEnd> run_websocket(asio::io_context& ioc, Ws& ws, const Endpoint& ep, const std::string& token,
                                         const std::string& path, int in_fd,
                                         const std::function<bool(std::string&)>& on_input,
                                         const std::function<void(std::string_view)>& on_output,
                                         const std::string& where) {
  ws.set_option(websocket::stream_base::decorator([&token](websocket::request_type& r) {
    r.set(http::field::user_agent, "keel-cli/0.1");
    if (!token.empty()) r.set(http::field::authorization, "Bearer " + token);
  }));
  websocket::response_type res;
  beast::error_code ec;
  const std::string host = ep.host.find(':') != std::string::npos ? "[" + ep.host + "]:" + ep.port : ep.host + ":" + ep.port;
  ws.handshake(res, host, ep.base_path + path, ec);
  if (ec) return keel::Err{upgrade_error(res, ec, where)};
  beast::get_lowest_layer(ws).expires_never();
  ws.binary(true);
  asio::posix::stream_descriptor in(ioc);
  in.assign(::dup(in_fd), ec);
  if (ec) return fail("the console's input must be a terminal or a pipe (" + ec.message() + ")");
  FleetClient::WsEnd end;
  std::array<char, 4096> ibuf{};
  beast::flat_buffer wbuf;
  std::deque<std::string> q;
  bool writing = false, closing = false;
  asio::steady_timer linger(ioc);
  std::function<void()> read_in, read_ws, write_next;
  auto close_ws = [&] {
    if (closing) return;
    closing = true;
    end.by_us = true;
    ws.async_close(websocket::close_code::normal, [](beast::error_code) {});
  };
  write_next = [&] {
    if (q.empty() || closing) {
      writing = false;
      return;
    }
    writing = true;
    ws.async_write(asio::buffer(q.front()), [&](beast::error_code wec, size_t) {
      q.pop_front();
      if (wec) {
        writing = false;
        return;
      }
      write_next();
    });
  };
  read_in = [&] {
    in.async_read_some(asio::buffer(ibuf), [&](beast::error_code iec, size_t n) {
      if (iec) {
        if (iec == asio::error::operation_aborted) return;
        // The input ended (a pipe): what the device answers within half a second is still shown.
        linger.expires_after(std::chrono::milliseconds(500));
        linger.async_wait([&](beast::error_code tec) {
          if (!tec) close_ws();
        });
        return;
      }
      std::string s(ibuf.data(), n);
      if (!on_input(s)) return close_ws();
      if (!s.empty()) {
        q.push_back(std::move(s));
        if (!writing) write_next();
      }
      read_in();
    });
  };
  read_ws = [&] {
    ws.async_read(wbuf, [&](beast::error_code rec, size_t) {
      if (rec) {
        end.close_code = ws.reason().code;
        end.reason = std::string(ws.reason().reason.data(), ws.reason().reason.size());
        beast::error_code ignored;
        in.cancel(ignored);
        linger.cancel();
        return;
      }
      const auto data = beast::buffers_to_string(wbuf.data());
      wbuf.consume(wbuf.size());
      on_output(data);
      read_ws();
    });
  };
  read_in();
  read_ws();
  ioc.run();
  return end;
}

}  // namespace

Result<FleetClient::WsEnd> FleetClient::websocket(const std::string& path, int in_fd,
                                                  const std::function<bool(std::string&)>& on_input,
                                                  const std::function<void(std::string_view)>& on_output) {
  std::string where = ep_.origin();
  try {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(ep_.host, ep_.port, ec);
    if (ec) return fail("cannot resolve Fleet host '" + ep_.host + "': " + ec.message());
    if (!ep_.tls) {
      websocket::stream<beast::tcp_stream> ws(ioc);
      beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
      beast::get_lowest_layer(ws).connect(results, ec);
      if (ec) return fail("cannot connect to Fleet at " + where + ": " + ec.message() + " (is keel-fleet running?)");
      return run_websocket(ioc, ws, ep_, token_, path, in_fd, on_input, on_output, where);
    }
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    if (auto t = configure_tls(ctx, tls_); !t) return keel::Err{t.error()};
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
    SSL* ssl = ws.next_layer().native_handle();
    if (auto v = verify_host(ssl, ep_); !v) return keel::Err{v.error()};
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws).connect(results, ec);
    if (ec) return fail("cannot connect to Fleet at " + where + ": " + ec.message() + " (is it running?)");
    ws.next_layer().handshake(asio::ssl::stream_base::client, ec);
    if (ec) return fail(tls_failure(ssl, ep_, tls_, ec));
    return run_websocket(ioc, ws, ep_, token_, path, in_fd, on_input, on_output, where);
  } catch (const std::exception& e) {
    return fail(std::string("talking to Fleet at ") + where + " failed: " + e.what());
  }
}

// ---- stored login --------------------------------------------------------------------------

std::string config_path() {
  if (const char* p = std::getenv("KEEL_CONFIG"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/keel/config.json";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.config/keel/config.json";
}

Result<void> save_login(const Login& login) {
  std::string path = config_path();
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    bool created = std::filesystem::create_directories(dir, ec);
    if (ec) return fail("cannot create '" + dir.string() + "': " + ec.message());
    if (created) ::chmod(dir.c_str(), 0700);
  }
  json j = {{"url", login.url}, {"token", login.token}};
  if (!login.ca_file.empty()) j["ca_file"] = login.ca_file;
  std::string text = j.dump(2) + "\n";
  auto w = keel::release::write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                                            0600, true);
  if (!w) return fail(w.error().describe());
  return keel::Ok{};
}

Result<std::optional<Login>> load_login() {
  std::string path = config_path();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::optional<Login>{};
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail("config file '" + path + "' holds an API token but is accessible by other users (mode " + mode +
                "); fix with: chmod 600 '" + path + "'");
  }
  auto bytes = keel::release::read_file(path, 1 << 20);
  if (!bytes) return fail(bytes.error().describe());
  json j = json::parse(bytes.value().begin(), bytes.value().end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("url") || !j["url"].is_string())
    return fail("config file '" + path + "' is not valid (expected JSON with \"url\"); run keel fleet login again");
  Login l;
  l.url = j["url"];
  if (j.contains("token") && j["token"].is_string()) l.token = j["token"];
  if (j.contains("ca_file") && j["ca_file"].is_string()) l.ca_file = j["ca_file"];
  return std::optional<Login>{l};
}

}  // namespace keel::studio
