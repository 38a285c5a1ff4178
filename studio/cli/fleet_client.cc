#include "fleet_client.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <filesystem>

#include "keel/release/io.h"

namespace keel::studio {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using nlohmann::json;
using tcp = asio::ip::tcp;

std::string FleetError::describe() const {
  std::string s;
  if (http_status) s = "Fleet answered " + std::to_string(http_status) + (code.empty() ? "" : " " + code) + ": ";
  s += message;
  if (!field.empty()) s += " (field '" + field + "')";
  return s;
}

namespace {

keel::Err<FleetError> ferr(const std::string& message) { return keel::Err{FleetError{0, "", message, ""}}; }

bool is_loopback_host(const std::string& h) {
  if (h == "localhost" || h == "::1" || h == "[::1]") return true;
  return h.rfind("127.", 0) == 0;
}

}  // namespace

FleetRes<Endpoint> parse_url(const std::string& url) {
  if (url.rfind("https://", 0) == 0)
    return ferr("https URLs are not supported by this keel yet (no TLS client); use http:// on loopback or through "
                "an SSH tunnel");
  if (url.rfind("http://", 0) != 0) return ferr("Fleet URL '" + url + "' must start with http://");
  std::string rest = url.substr(7);
  Endpoint ep;
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) ep.base_path = rest.substr(slash);
  while (!ep.base_path.empty() && ep.base_path.back() == '/') ep.base_path.pop_back();
  if (hostport.empty()) return ferr("Fleet URL '" + url + "' has no host");
  if (hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos) return ferr("Fleet URL '" + url + "': unterminated IPv6 address");
    ep.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') return ferr("Fleet URL '" + url + "': bad port");
      ep.port = hostport.substr(close + 2);
    }
  } else {
    size_t colon = hostport.rfind(':');
    ep.host = hostport.substr(0, colon);
    if (colon != std::string::npos) ep.port = hostport.substr(colon + 1);
  }
  if (ep.port.empty()) ep.port = "80";
  if (ep.host.empty() || ep.port.size() > 5 ||
      !std::all_of(ep.port.begin(), ep.port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(ep.port) == 0 || std::stoi(ep.port) > 65535)
    return ferr("Fleet URL '" + url + "': bad host or port");
  ep.loopback = is_loopback_host(ep.host);
  return ep;
}

FleetRes<json> FleetClient::request(const std::string& method, const std::string& path,
                                    const std::string& content_type, std::span<const uint8_t> body,
                                    const Progress* progress) {
  std::string where = "http://" + ep_.host + ":" + ep_.port;
  try {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(ep_.host, ep_.port, ec);
    if (ec) return ferr("cannot resolve Fleet host '" + ep_.host + "': " + ec.message());
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(results, ec);
    if (ec) return ferr("cannot connect to Fleet at " + where + ": " + ec.message() + " (is keel-fleet running?)");

    http::verb verb = http::string_to_verb(method);
    std::string target = ep_.base_path + path;
    http::request<http::buffer_body> req{verb, target, 11};
    req.set(http::field::host, ep_.host);
    req.set(http::field::user_agent, "keel-cli/0.1");
    req.set(http::field::accept, "application/json");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.content_length(body.size());
    req.body().data = nullptr;
    req.body().more = !body.empty();
    http::request_serializer<http::buffer_body> sr{req};
    // Large bodies: allow time in proportion (at least 1 MiB/s), then the answer.
    stream.expires_after(std::chrono::seconds(30 + body.size() / (1 << 20)));
    http::write_header(stream, sr, ec);
    if (ec) return ferr("sending to Fleet at " + where + " failed: " + ec.message());
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
      if (ec) return ferr("sending to Fleet at " + where + " failed: " + ec.message());
    }
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream, buf, parser, ec);
    if (ec) {
      if (send_failed) return ferr("the upload to Fleet at " + where + " was cut off after " + std::to_string(sent) + " bytes");
      return ferr("no valid answer from Fleet at " + where + ": " + ec.message());
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    auto& res = parser.get();
    int status = static_cast<int>(res.result_int());
    json j;
    if (!res.body().empty()) {
      j = json::parse(res.body(), nullptr, false);
      if (j.is_discarded()) {
        if (status >= 400)
          return keel::Err{FleetError{status, "", "the server's answer is not JSON (is this a Keel Fleet URL?)", ""}};
        return keel::Err{FleetError{status, "", "the server's answer is not JSON (is this a Keel Fleet URL?)", ""}};
      }
    }
    if (status >= 400) {
      FleetError e{status, "", "request failed", ""};
      if (j.is_object() && j.contains("error") && j["error"].is_object()) {
        const auto& er = j["error"];
        if (er.contains("code") && er["code"].is_string()) e.code = er["code"];
        if (er.contains("message") && er["message"].is_string()) e.message = er["message"];
        if (er.contains("field") && er["field"].is_string()) e.field = er["field"];
      }
      return keel::Err{e};
    }
    return j;
  } catch (const std::exception& e) {
    return ferr(std::string("talking to Fleet at ") + where + " failed: " + e.what());
  }
}

FleetRes<json> FleetClient::get(const std::string& path) { return request("GET", path, "", {}, nullptr); }
FleetRes<json> FleetClient::del(const std::string& path) { return request("DELETE", path, "", {}, nullptr); }
FleetRes<json> FleetClient::post(const std::string& path, const json& body) {
  std::string s = body.dump();
  return request("POST", path, "application/json",
                 std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()), nullptr);
}
FleetRes<json> FleetClient::upload(const std::string& path, std::span<const uint8_t> body, const Progress& progress) {
  return request("POST", path, "application/octet-stream", body, &progress);
}

FleetRes<json> FleetClient::get_all(const std::string& path, size_t max_items) {
  json all = json::array();
  std::string cursor;
  const char* sep = path.find('?') == std::string::npos ? "?" : "&";
  for (;;) {
    std::string p = path + sep + "limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto page = get(p);
    if (!page) return page;
    const json& j = page.value();
    if (!j.is_object() || !j.contains("items") || !j["items"].is_array())
      return ferr("unexpected answer from Fleet for " + path + " (no 'items' list)");
    for (const auto& it : j["items"]) {
      if (all.size() >= max_items) return all;
      all.push_back(it);
    }
    if (!j.contains("next_cursor") || !j["next_cursor"].is_string()) return all;
    cursor = j["next_cursor"].get<std::string>();
  }
}

// ---- stored login --------------------------------------------------------------------------

std::string config_path() {
  if (const char* p = std::getenv("KEEL_CONFIG"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/keel/config.json";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.config/keel/config.json";
}

keel::Result<void, std::string> save_login(const Login& login) {
  std::string path = config_path();
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    bool created = std::filesystem::create_directories(dir, ec);
    if (ec) return keel::Err{std::string("cannot create '" + dir.string() + "': " + ec.message())};
    if (created) ::chmod(dir.c_str(), 0700);
  }
  json j = {{"url", login.url}, {"token", login.token}};
  std::string text = j.dump(2) + "\n";
  auto w = keel::release::write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                                            0600, true);
  if (!w) return keel::Err{w.error().describe()};
  return keel::Ok{};
}

keel::Result<std::optional<Login>, std::string> load_login() {
  std::string path = config_path();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::optional<Login>{};
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return keel::Err{std::string("config file '") + path + "' holds an API token but is accessible by other users (mode " +
                     mode + "); fix with: chmod 600 '" + path + "'"};
  }
  auto bytes = keel::release::read_file(path, 1 << 20);
  if (!bytes) return keel::Err{bytes.error().describe()};
  json j = json::parse(bytes.value().begin(), bytes.value().end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("url") || !j["url"].is_string())
    return keel::Err{std::string("config file '") + path + "' is not valid (expected JSON with \"url\"); run keel login again"};
  Login l;
  l.url = j["url"];
  if (j.contains("token") && j["token"].is_string()) l.token = j["token"];
  return std::optional<Login>{l};
}

}  // namespace keel::studio
